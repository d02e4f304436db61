"""The optional LLM pass (stage 3): drafting prose from the records, and gating it.

``draft`` (the pass: cache, concurrency, assembling ``Drafts``), ``prompts`` (one request per
section, with its evidence), ``sections`` (a chapter's bare parts, sized to the context),
``endpoint`` (the endpoint, one request, who answered), ``gate`` (degenerate answers),
``factcheck`` (claims in a draft that no record supports), ``subjects`` (what each recorded
value counts), ``claims`` (a draft's claims tied to their subjects, against the records'),
``report`` (the lines naming who answered, the build summary lines).

May import: the shared modules at the package's top, ``pipeline.markdown`` and ``pipeline.article``
(the author's prose and its glue values); never ``run``, ``publish`` or the commands.
"""
