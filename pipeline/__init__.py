"""Turn executed ML experiments into a Qiita-style article and an MkDocs site.

The stages, in order: experiments -> execute -> harvest -> draft -> render -> export.
Importing this package is cheap: heavy libraries are imported where used.
"""

__version__ = "0.1.0"
