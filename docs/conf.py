"""Sphinx configuration of the dropengine documentation.

Build (from the repository root, with the package installed)::

    pip install ".[docs]" && sphinx-build -W -b html docs docs/_build/html

The gallery (``examples/``) is executed at every build; ``-b doctest`` runs the code in
docstrings and user-guide pages.
"""
from __future__ import annotations

import os
from pathlib import Path

# OpenMP reads its settings when the library loads: before dropengine is imported. Idle
# threads sleep instead of spinning, which matters when Dask threads share the cores.
os.environ.setdefault("OMP_WAIT_POLICY", "passive")

import dropengine  # noqa: E402

ROOT = Path(__file__).resolve().parent.parent

project = "dropengine"
author = "dropengine developers"
copyright = "2026, dropengine developers"
version = release = dropengine.__version__

extensions = [
    "sphinx.ext.autodoc",
    "sphinx.ext.autosummary",
    "sphinx.ext.doctest",
    "sphinx.ext.mathjax",
    "numpydoc",
    "myst_parser",
    "sphinx_gallery.gen_gallery",
]

source_suffix = {".rst": "restructuredtext", ".md": "markdown"}
root_doc = "index"
# Literal blocks in docstrings are equations laid out as text; code says its language.
highlight_language = "text"
exclude_patterns = ["_build", "**.ipynb_checkpoints", "gallery/**.md5", "gallery/*.py",
                    "gallery/*.ipynb", "gallery/*.zip"]
templates_path = ["_templates"]

# --- API reference -------------------------------------------------------------------
autosummary_generate = True
autosummary_imported_members = True
autodoc_default_options = {"members": False}
autodoc_typehints = "none"           # numpydoc's Parameters sections say the types
numpydoc_show_class_members = False  # the class templates list members themselves
numpydoc_class_members_toctree = False
numpydoc_xref_param_type = False

# --- MyST ----------------------------------------------------------------------------
myst_enable_extensions = ["dollarmath", "amsmath", "colon_fence", "deflist"]
myst_heading_anchors = 3

# --- gallery -------------------------------------------------------------------------
sphinx_gallery_conf = {
    "examples_dirs": str(ROOT / "examples"),
    "gallery_dirs": "gallery",
    "filename_pattern": r"/plot_",
    "within_subsection_order": "FileNameSortKey",
    "download_all_examples": False,
    "remove_config_comments": True,
    "abort_on_example_error": True,
    "matplotlib_animations": False,
    "show_memory": False,
    "min_reported_time": 1,
    "reference_url": {"dropengine": None},
    "doc_module": ("dropengine",),
    "backreferences_dir": None,
}

# --- doctest (sphinx-build -b doctest) -------------------------------------------------
doctest_global_setup = """
import numpy as np
import dropengine as de
"""
doctest_test_doctest_blocks = "default"


# --- math ----------------------------------------------------------------------------
# MathJax comes from its CDN. To read the site offline, point DROPENGINE_DOCS_MATHJAX at a
# local MathJax 2 (Debian: apt install libjs-mathjax, /usr/share/javascript/mathjax/MathJax.js).
_mathjax = os.environ.get("DROPENGINE_DOCS_MATHJAX")
if _mathjax:
    mathjax_path = (_mathjax if "://" in _mathjax else Path(_mathjax).resolve().as_uri()) + "?config=TeX-AMS_CHTML"

# --- HTML ------------------------------------------------------------------------------
html_theme = "pydata_sphinx_theme"
html_title = f"dropengine {release}"
html_static_path = ["_static"]
html_css_files = ["custom.css"]
html_theme_options = {
    "github_url": None,
    "navbar_align": "left",
    "show_toc_level": 2,
    "navigation_with_keys": False,
    "footer_start": ["copyright"],
    "footer_end": ["sphinx-version", "theme-version"],
    "secondary_sidebar_items": ["page-toc"],
}
html_context = {"default_mode": "light"}
html_show_sourcelink = False


# --- docstrings ------------------------------------------------------------------------
import re  # noqa: E402

# The docstrings are plain text first (help(), IDEs): |x| is an absolute value or a norm,
# which reStructuredText would read as a substitution. Escape the bars outside literals.
_BARS = re.compile(r"(?<![\\|`])\|(?=[^|\s`])([^|`\n]*?[^|\s\\`])\|(?![|_`])")


def _escape_bars(app, what, name, obj, options, lines):
    for i, line in enumerate(lines):
        parts = line.split("``")
        for k in range(0, len(parts), 2):      # outside ``literal`` spans only
            parts[k] = _BARS.sub(r"\\|\1\\|", parts[k])
        lines[i] = "``".join(parts)


# Summaries in the API tables are first sentences: "(Eq. 48)" does not end one.
import sphinx.ext.autosummary as _autosummary  # noqa: E402

_autosummary.WELL_KNOWN_ABBREVIATIONS = tuple(_autosummary.WELL_KNOWN_ABBREVIATIONS) + (
    "Eq.", "Eqs.", "Fig.", "Figs.", "Sec.", "Sect.", "App.", "resp.", "cf.")


_LIST_ITEM = re.compile(r"\s*([*-]|\d+\.)\s")


def _indent(line):
    return len(line) - len(line.lstrip())


def _literal_blocks(app, what, name, obj, options, lines):
    """An indented block after a blank line that follows a less indented paragraph is,
    in these docstrings, an equation or a command laid out as plain text: make it a
    literal block (reStructuredText would make it a quotation and join its lines)."""
    i = 2
    while i < len(lines):
        if lines[i].strip() and not lines[i - 1].strip():
            j = i - 2
            while j >= 0 and not lines[j].strip():
                j -= 1
            if (j >= 0 and _indent(lines[i]) > _indent(lines[j]) and not lines[j].rstrip().endswith("::")
                    and not _LIST_ITEM.match(lines[j]) and not lines[i].lstrip().startswith(">>>")):
                lines[i - 1:i] = ["", " " * _indent(lines[j]) + "::", ""]
                i += 2
                while i < len(lines) and (not lines[i].strip() or _indent(lines[i]) > _indent(lines[j])):
                    i += 1
                continue
        i += 1


_PRIVATE_PARAM = re.compile(r",\s*_\w+=[^,)]*")


def _hide_private_params(app, what, name, obj, options, signature, return_annotation):
    if signature:
        signature = _PRIVATE_PARAM.sub("", signature)
    return signature, return_annotation


def setup(app):
    app.connect("autodoc-process-docstring", _escape_bars, priority=400)
    app.connect("autodoc-process-docstring", _literal_blocks, priority=401)
    app.connect("autodoc-process-signature", _hide_private_params)
