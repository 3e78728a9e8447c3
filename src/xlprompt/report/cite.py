"""``xlprompt data cite --store DB`` and the report's "Data" section: the files a store's runs read, with the
digest each run recorded and the ``xlprompt data fetch`` source that writes it, so that a paper can name the
exact splits behind its numbers (SIB-200's few-shot splits are xlprompt's own draws: their digests identify them).

Every finished run records ``data_files`` in its results (path relative to the data folder, source, SHA-256 of
the bytes it read; :func:`xlprompt.experiment.recorded_data_files`). A file listed with two digests was changed
between runs: both are printed, each with the number of runs that read it. Runs recorded before xlprompt kept
per-file digests are counted, with the one digest of all their data files they did record (``inputs.data``).
"""

from __future__ import annotations

from dataclasses import dataclass, field


@dataclass
class Citation:
    """The data of a store's finished runs: ``files[task][(path, source)][sha256]`` = number of runs,
    ``older[task]`` = the data digests of runs recorded without per-file digests, ``demo`` = runs on
    ``builtin:demo`` (files shipped with xlprompt)."""

    runs: int = 0
    files: dict[str, dict[tuple[str, str], dict[str, int]]] = field(default_factory=dict)
    older: dict[str, list[str]] = field(default_factory=dict)
    demo: int = 0


def collect(store) -> Citation:
    """Read the finished runs of a :class:`~xlprompt.store.ResultStore`, or of the store at a path (opened read
    only), into a :class:`Citation`."""
    from xlprompt.store import ResultStore

    own = not hasattr(store, "finished")
    if own:
        store = ResultStore(store, create=False, readonly=True)
    out = Citation()
    try:
        for record in store.finished():
            results = record.results if isinstance(record.results, dict) else {}
            config = record.config if isinstance(record.config, dict) else {}
            task = str(config.get("task", "xnli"))
            out.runs += 1
            if config.get("data_dir") == "builtin:demo":
                out.demo += 1
                continue
            files = results.get("data_files")
            if not isinstance(files, list):
                inputs = results.get("inputs") if isinstance(results.get("inputs"), dict) else {}
                out.older.setdefault(task, []).append(str(inputs.get("data", "no digest recorded")))
                continue
            table = out.files.setdefault(task, {})
            for item in files:
                if isinstance(item, dict):
                    key = (str(item.get("path")), str(item.get("source")))
                    digests = table.setdefault(key, {})
                    digests[str(item.get("sha256"))] = digests.get(str(item.get("sha256")), 0) + 1
    finally:
        if own:
            store.close()
    return out


def _descriptions() -> dict[str, str]:
    try:
        from xlprompt.data.fetch import default_sources

        return {name: source.description for name, source in default_sources().items()}
    except Exception:  # a source registry that cannot be built here: the names alone
        return {}


def to_text(citation: Citation, store_name: str, markdown: bool = False) -> str:
    """The citation as lines (``markdown``: a report section with a table per task)."""
    described = _descriptions()
    head = f"Data of the {citation.runs} finished runs in {store_name}"
    lines = [f"## {head}" if markdown else head, ""]
    if not citation.runs:
        return "\n".join(lines + ["No finished runs.", ""])
    for task, table in sorted(citation.files.items()):
        sources = sorted({source for _, source in table})
        lines.append(f"### Task {task}" if markdown else f"task {task}:")
        lines += [
            f"- source `{s}`: {described.get(s, 'not a source of this xlprompt')}"
            if markdown
            else f"  source {s}: {described.get(s, 'not a source of this xlprompt')}"
            for s in sources
        ]
        if markdown:
            lines += ["", "| file | source | SHA-256 | runs |", "|---|---|---|---|"]
        for (path, source), digests in sorted(table.items()):
            changed = " (CHANGED between runs)" if len(digests) > 1 else ""
            for digest, n in sorted(digests.items()):
                if markdown:
                    lines.append(f"| `{path}`{changed} | {source} | `{digest}` | {n} |")
                else:
                    lines.append(f"  {path}  {digest}  {source}  {n} run{'s' if n != 1 else ''}{changed}")
        lines.append("")
    for task, digests in sorted(citation.older.items()):
        lines.append(
            f"task {task}: {len(digests)} runs recorded before xlprompt kept per-file digests; their data "
            f"digests (all files together): {', '.join(sorted(set(digests)))}"
        )
    if citation.demo:
        lines.append(f"{citation.demo} runs on builtin:demo (the XNLI sample shipped with xlprompt)")
    return "\n".join(lines).rstrip("\n") + "\n"
