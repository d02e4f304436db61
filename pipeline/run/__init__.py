"""Running experiments: kernels (local or on a gateway), the execution cache, the schedule.

Stage 1 of the pipeline (``execute``), with what it needs: ``engines`` (the one interface of every
way to run kernels: start, run a notebook, close; ``execute.engine_for`` picks one from the config),
``sessions`` (a started kernel running an experiment's cells), ``prestart`` (kernels started ahead),
``schedule`` (order and ``--jobs``), ``threads`` (the cores each kernel's math libraries may use),
``cache``, ``kernel_env`` (what a kernel may see and what it leaves behind), ``outputs`` (streams as a
terminal shows them), ``gateway``/``gateway_client`` (remote kernels), ``warm`` (preview's
kept-alive kernels) and ``kernel_side`` (which of our modules run inside kernels).

May import: the shared modules at the package's top and ``pipeline.markdown``; never
``article``, ``llm``, ``publish`` or the commands.
"""
