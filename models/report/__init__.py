"""Clinician reports: one self-contained HTML page per patient plus an index.

`phrasing` (plain-language sentences), `charts` (inline SVG), `view` (what a report says),
`render` (Jinja2), `inputs` (reading the explain stage's files), `writer` (the entry point).
"""
