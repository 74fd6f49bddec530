"""The project's citation (``CITATION.cff``) as BibTeX, for the site's "Cite" section."""

from __future__ import annotations

from pathlib import Path
from typing import Any

CITATION_FILE = Path(__file__).resolve().parent.parent / "CITATION.cff"


def _bibtex_escape(text: str) -> str:
    out = []
    for ch in text:
        out.append({"&": r"\&", "%": r"\%", "$": r"\$", "#": r"\#", "_": r"\_", "{": r"\{",
                    "}": r"\}", "~": r"\textasciitilde{}", "^": r"\^{}",
                    "\\": r"\textbackslash{}"}.get(ch, ch))
    return "".join(out)


def load_citation(path: Path = CITATION_FILE) -> dict[str, Any] | None:
    """The parsed ``CITATION.cff`` (None when the file is absent, e.g. an installed wheel)."""
    import yaml

    if not path.is_file():
        return None
    data = yaml.safe_load(path.read_text(encoding="utf-8"))
    return data if isinstance(data, dict) else None


def bibtex(cff: dict[str, Any]) -> str:
    """A ``@software`` BibTeX entry from a CITATION.cff mapping (title, authors, version,
    date-released, url/repository-code when given)."""
    authors = []
    for a in cff.get("authors", []):
        if "name" in a:
            authors.append("{" + _bibtex_escape(str(a["name"])) + "}")  # an entity: braced
        else:
            authors.append(_bibtex_escape(f"{a.get('family-names', '')}, "
                                          f"{a.get('given-names', '')}".strip(", ")))
    date = str(cff.get("date-released", ""))
    fields = [("title", "{" + _bibtex_escape(str(cff.get("title", "modebench"))) + "}"),
              ("author", " and ".join(authors)),
              ("year", date[:4]),
              ("version", _bibtex_escape(str(cff.get("version", "")))),
              ("url", str(cff.get("url") or cff.get("repository-code") or ""))]
    body = ",\n".join(f"  {k} = {{{v}}}" for k, v in fields if v)
    return f"@software{{modebench{date[:4]},\n{body}\n}}\n"
