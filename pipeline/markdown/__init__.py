"""Markdown as text: one fence-aware scanner, the untrusted-text policy, URLs, SVG, platform rules.

``scanner`` (line-level Markdown on one fence-aware scanner), ``sanitize`` (the allow-list
every untrusted Markdown source goes through), ``boxes`` (Jupyter alert divs, GitHub alerts and HTML
blocks in the author's Markdown, as each platform's own boxes), ``html_output`` (an output's HTML
made ready for the sanitizer), ``math`` (math as authors write it, then as each dialect renders it),
``zenn`` (what only Zenn needs: no raw HTML, no SVG), ``urls``, ``svg`` (figures reduced to what
draws, and drawn as PNG), ``dialects`` (Qiita's and Zenn's Markdown dialects, checked line by line)
and ``platforms`` (Qiita, Zenn and MkDocs: each platform's rules and Markdown checks).

May import: only this subpackage. Everything else may import it.
"""
