"""Markdown as text: one fence-aware scanner, the untrusted-text policy, URLs, SVG, platform rules.

``scanner`` (line-level Markdown on one fence-aware scanner), ``sanitize`` (the allow-list
every untrusted Markdown source goes through), ``urls``, ``svg`` (figures reduced to what
draws) and ``platforms`` (Qiita, Zenn and MkDocs: each platform's rules and Markdown checks).

May import: only this subpackage. Everything else may import it.
"""
