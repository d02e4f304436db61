"""The optional LLM pass (stage 3): drafting prose from the records, and checking it against them.

``draft`` (requests, cache, the gate) and ``factcheck`` (claims in a draft that no record supports).

May import: the shared modules at the package's top, ``pipeline.markdown`` and ``pipeline.article``
(the author's prose and its glue values); never ``run``, ``publish`` or the commands.
"""
