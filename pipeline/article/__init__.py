"""From executed notebooks to the article's text: harvest, the author's prose, the template context, rendering.

``harvest`` (stage 2: executed notebook -> ``ExperimentRecord``; ``figures`` writes its figure files),
``observations`` (the author's prose and the glue values it cites), ``chapters`` and
``context`` (records -> the documented template context), ``anchors`` (heading anchors per
platform), ``drafted`` (what the LLM pass drafted, as the article shows it), ``title`` (the
article's title, and the Zenn slug and topics derived from it, resolved once) and ``render``
(stage 4: the Jinja templates).

May import: the shared modules at the package's top and ``pipeline.markdown``; never ``run``,
``llm``, ``publish`` or the commands.
"""
