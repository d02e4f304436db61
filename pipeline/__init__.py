"""Turn executed ML experiments into a Qiita-style article, a Zenn article and an MkDocs site.

The stages, in order: experiments -> execute -> harvest -> draft -> render -> export.
The package lays them out as folders; each folder's ``__init__`` says what lives there.

- Commands (``cli``, ``build``, ``preview``): parse, load the config, call the stages.
- Shared nouns and helpers, at the top: ``config`` (with ``schema``, the typed validation of a
  TOML table, and ``config_docs``, the reference pages written from the code), ``records``
  (with ``codec``, records to JSON and back), ``summary`` (what a build did, and its counts
  line), ``errors``, ``progress``, ``text``, ``layout`` (where everything lives), ``storage``
  (atomic writes, the journaled publication; ``renames`` exchanges two paths in one step) and
  ``experiments`` (stage 0: find and read the experiments; ``gallery`` reads sphinx-gallery
  scripts); ``scaffold`` and ``suggest`` (``init``: a new project and the values it suggests),
  ``workspace`` (several article projects in one repository: ``build --all``).
- Kernel side, where authors import them: ``glue``, ``lab`` (with ``model_cache``, the
  machine's one cache of converted model weights), and ``kernel_extension`` (the IPython
  extension every experiment kernel loads).
- ``run/`` (execute), ``article/`` (harvest, render), ``llm/`` (draft), ``publish/``
  (export), ``markdown/`` (text rules every stage shares).

The import rule (checked by ``tests/test_imports.py``): ``markdown`` imports only itself;
the top-level shared modules import each other and ``markdown``; ``run`` and ``article``
import those, never each other; ``llm`` and ``publish`` may also import ``article``, never
``run`` or each other; only the commands import everything.
Importing this package is cheap: heavy libraries are imported where used.
"""

__version__ = "0.1.0"
