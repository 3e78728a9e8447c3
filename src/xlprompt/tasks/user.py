"""User tasks from a YAML file (``task=path/to/task.yaml``). Format (README 'Tasks')::

    name: sentiment-mini            # required
    text_fields: [text]             # one field (single text) or two (a pair)
    labels: [negative, positive]    # class i = labels[i]; data files give the name or the index
    label_words:                    # a default for every language; per-language words optional
      default: [bad, good]
      de: [schlecht, gut]
    languages: [en, de]             # evaluation languages (any codes)
    source_language: en             # the language of the few-shot train and dev data (default en)
    columns: {text: sentence}       # optional: the column/key of each text field (default: its name)
    label_column: label             # optional (default label)
    tiny_label_words: [no, yes]     # optional: words for the builtin tiny tokenizer (tests)
    splits:                         # files per split and language, relative to this YAML file
      train: {en: data/train.en.tsv}            # the few-shot pool (k per class sampled with the seed)
      dev: {en: data/dev.en.tsv}                # optional: else dev is sampled from the rest of train
      test: {en: data/test.en.tsv, de: data/test.de.csv}   # every language needs one
    # optional, each enables a method that needs more than labels and label words:
    pct_templates:                  # PCT (enables method pct): one template per language, the text(s) in {}
      en: "Review: {} Sentiment: <mask>"      # two text fields: {} takes the second, the first stays before
      de: "Rezension: {} Stimmung: <mask>"    # it as the pair's first sequence (PAWS-X's form); <mask> after {}
    pct_draw_languages: [de]        # optional: the second template's languages (default: all but the source)
    pct_label_words: [bad, good]    # optional: PCT's words (default: label_words.default)
    dp_template: "{text} . Sentiment: <mask> ."   # DP (enables method dp): {<text field>} once each, <mask> once
    dictionaries: {de: dict/en-de.txt}    # SoftMV (with per-language label words): bilingual dictionaries of
                                    # target languages, MUSE's format ("source target" per line), for its code-switching
    # DPA runs when label_words gives a list for every language (its multilingual label-word optimisation)

Files: ``.tsv`` (headed, unquoted: :func:`xlprompt.data.tsv.read_tsv`), ``.csv`` (headed, csv-module quoting)
or ``.jsonl`` (one object per line); or a Hugging Face dataset split instead of a file:
``de: {dataset: paws-x, config: de, split: test}`` (``datasets.load_dataset(dataset, config, split=split)``; runs
do not download, so it must be in the local ``datasets`` cache: set ``HF_DATASETS_OFFLINE=1`` offline;
``data_files`` names local files for the generic loaders, e.g. ``{dataset: json, data_files: x.jsonl}``). Every
problem is one :class:`ConfigError` line naming the file and the field (or the data file and its line).
"""

from __future__ import annotations

import csv
from pathlib import Path

from xlprompt.data.examples import NLIExample, content_uid
from xlprompt.data.home import misplaced_file_message, not_a_file
from xlprompt.errors import ConfigError, DataError
from xlprompt.languages import check_language_code
from xlprompt.tasks.base import Task

FIELDS = (
    "name",
    "text_fields",
    "labels",
    "label_words",
    "languages",
    "source_language",
    "columns",
    "label_column",
    "tiny_label_words",
    "splits",
    "description",
    # what a method needs beyond labels and label words: each enables its method (Task.method_options)
    "pct_templates",
    "pct_draw_languages",
    "pct_label_words",
    "dp_template",
    "dictionaries",
)
SPLITS = ("train", "dev", "test")
FORMATS = (".tsv", ".csv", ".jsonl")


def _err(path, field: str, message: str) -> ConfigError:
    return ConfigError(f"{path}: field '{field}': {message}")


def _str_list(path, data, key, lengths=None) -> tuple[str, ...]:
    value = data.get(key)
    if (
        not isinstance(value, list)
        or not value
        or not all(isinstance(v, (str, int)) and not isinstance(v, bool) for v in value)
    ):
        booleans = isinstance(value, list) and any(isinstance(v, bool) for v in value)
        hint = " (quote yes/no: YAML reads them as booleans)" if booleans else ""
        raise _err(path, key, f"needs a non-empty list of strings{hint}")
    out = tuple(str(v).strip() for v in value)
    if not all(out):
        raise _err(path, key, f"has an empty entry: {list(out)}")
    if lengths and len(out) not in lengths:
        raise _err(path, key, f"needs {' or '.join(map(str, lengths))} entries, got {len(out)}")
    if len(set(out)) != len(out):
        raise _err(path, key, f"has a repeated entry: {list(out)}")
    return out


def check_definition(where, data: dict) -> dict:
    """The checked definition of a task from the mapping ``data`` of a task file's fields (or of a registered
    :class:`~xlprompt.tasks.base.Task`'s: :func:`check_task`): its name (one line, no '|', '/' or '\\': it names a
    report file and a table's title), one or two text fields, at least two distinct labels, its language codes and
    source language, one distinct label word per label (by default and per language) and its tiny label words.

    Args:
        where (str | Path): what errors name first (the task file, or ``register_task('name')``).
        data (dict): the fields ``name``, ``text_fields``, ``labels``, ``languages``, ``label_words`` (a list, or
            ``{"default": [...], lang: [...]}``), optional ``source_language`` and ``tiny_label_words``.

    Returns:
        dict: ``name``, ``text_fields``, ``labels``, ``languages``, ``source_language``, ``label_words`` (the
        default words), ``language_label_words`` (lang → words) and ``tiny_label_words``, as tuples.

    Raises:
        ConfigError: the first problem, in one line naming ``where`` and the field.
    """
    path = where
    name = data["name"]
    if not isinstance(name, str) or not name.strip():
        raise _err(path, "name", "needs a non-empty string")
    from xlprompt.config import name_problem

    problem = name_problem(name, folder=True)  # it names the report's task_<name>.md and is a table's title
    if problem:
        raise _err(path, "name", problem)
    from xlprompt.tasks.base import TASKS

    # a built-in task's name in any letter case (XNLI is xnli to a reader of a table) is refused; a registered
    # task's name is register_task's own rule (replace=True)
    taken = {known.lower(): known for known, task in TASKS.items() if task.origin.startswith("built-in")}.get(
        name.strip().lower()
    )
    if taken is not None:
        same = f"'{name.strip()}' is a built-in task" + ("" if taken == name.strip() else f" ('{taken}')")
        raise _err(path, "name", f"{same}; give your task another name")
    fields = _str_list(path, data, "text_fields", (1, 2))
    labels = _str_list(path, data, "labels")
    if len(labels) < 2:
        raise _err(path, "labels", "needs at least 2 labels")
    languages = _str_list(path, data, "languages")
    for lang in languages:
        try:
            check_language_code(lang)
        except ConfigError as err:
            raise _err(path, "languages", str(err)) from None
    source = str(data.get("source_language", "en"))
    if source not in languages:
        raise _err(path, "source_language", f"'{source}' is not one of languages ({', '.join(languages)})")

    words = data["label_words"]
    if isinstance(words, list):
        words = {"default": words}
    if not isinstance(words, dict) or "default" not in words:
        raise _err(path, "label_words", "needs a 'default' list (one word per label) and optional per-language lists")
    table = {}
    for lang, entry in words.items():
        where = f"label_words.{lang}"
        if lang != "default" and lang not in languages:
            raise _err(path, where, f"'{lang}' is not one of languages ({', '.join(languages)})")
        if not isinstance(entry, list) or any(isinstance(w, bool) or not isinstance(w, (str, int)) for w in entry):
            raise _err(path, where, "needs a list of words (quote yes/no: YAML reads them as booleans)")
        if len(entry) < len(labels):
            raise _err(
                path,
                where,
                f"label '{labels[len(entry)]}' has no label word ({len(entry)} words for {len(labels)} labels)",
            )
        if len(entry) > len(labels):
            raise _err(path, where, f"{len(entry)} words for {len(labels)} labels ({', '.join(labels)})")
        table[lang] = tuple(str(w).strip() for w in entry)
        if not all(table[lang]):
            raise _err(path, where, f"has an empty label word: {list(table[lang])}")
        if len(set(table[lang])) != len(table[lang]):
            raise _err(path, where, f"two labels share a label word: {list(table[lang])}")
    default = table.pop("default")
    tiny = _str_list(path, data, "tiny_label_words", (len(labels),)) if "tiny_label_words" in data else ()

    return dict(
        name=name.strip(),
        text_fields=fields,
        labels=labels,
        languages=languages,
        source_language=source,
        label_words=default,
        language_label_words=table,
        tiny_label_words=tiny,
    )


def check_task(task: Task) -> None:
    """Apply the task file's rules (:func:`check_definition`) to a task given from Python
    (:func:`xlprompt.register_task`), so that a registered task is held to what a task file may be.

    Args:
        task (Task): the task.

    Raises:
        ConfigError: the first problem, in one line: ``register_task('name'): field 'labels': ...``.
    """

    def listed(value):
        return list(value) if isinstance(value, (list, tuple)) else value

    words = task.language_label_words if isinstance(task.language_label_words, dict) else {}
    data = {
        "name": task.name,
        "text_fields": listed(task.text_fields),
        "labels": listed(task.labels),
        "languages": listed(task.languages),
        "source_language": task.source_language,
        "label_words": {"default": listed(task.label_words), **{k: listed(v) for k, v in words.items()}},
    }
    if task.tiny_label_words:
        data["tiny_label_words"] = listed(task.tiny_label_words)
    check_definition(f"register_task({task.name!r})", data)
    where = f"register_task({task.name!r}): field 'train_languages'"
    if task.train_languages and task.load_splits is None:
        raise ConfigError(
            f"{where}: a task read from its files trains on its source language only; give the task its own "
            "load_splits (reading each of config.sources()) or leave train_languages empty"
        )
    unknown = [lang for lang in task.train_languages if lang not in task.languages]
    if unknown:
        raise ConfigError(f"{where}: {', '.join(map(str, unknown))} not among the task's languages")


def load_task_file(path: str | Path) -> Task:
    from xlprompt.config import read_yaml

    path = Path(path)
    data = read_yaml(path, "task file")
    if not isinstance(data, dict):
        raise ConfigError(f"{path}: a task file is a mapping of the fields {', '.join(FIELDS)}")
    import difflib

    for key in data:
        if key not in FIELDS:
            near = difflib.get_close_matches(str(key), FIELDS, n=1)
            raise _err(
                path,
                key,
                "unknown field" + (f"; did you mean '{near[0]}'?" if near else f"; known: {', '.join(FIELDS)}"),
            )
    for key in ("name", "text_fields", "labels", "label_words", "languages", "splits"):
        if key not in data:
            raise _err(path, key, "missing (required)")
    definition = check_definition(path, data)
    name, fields, labels, languages, source = (
        definition[k] for k in ("name", "text_fields", "labels", "languages", "source_language")
    )
    default, table, tiny = definition["label_words"], definition["language_label_words"], definition["tiny_label_words"]
    from xlprompt.tasks.base import TASKS

    if name in TASKS:  # a built-in name was refused by check_definition
        raise _err(path, "name", f"'{name}' is a registered task; give your task another name")

    columns = data.get("columns", {}) or {}
    if not isinstance(columns, dict) or any(k not in fields for k in columns):
        raise _err(path, "columns", f"maps text fields ({', '.join(fields)}) to column names")
    columns = {f: str(columns.get(f, f)) for f in fields}
    label_column = str(data.get("label_column", "label"))

    splits = data["splits"]
    if not isinstance(splits, dict):
        raise _err(path, "splits", "maps train/dev/test to {language: file}")
    files: dict[str, dict[str, str]] = {}
    for split, entry in splits.items():
        if split not in SPLITS:
            raise _err(path, f"splits.{split}", f"unknown split; known: {', '.join(SPLITS)}")
        if not isinstance(entry, dict):
            raise _err(path, f"splits.{split}", "maps languages to files")
        files[split] = {}
        for lang, rel in entry.items():
            where = f"splits.{split}.{lang}"
            if lang not in languages:
                raise _err(path, where, f"'{lang}' is not one of languages ({', '.join(languages)})")
            if isinstance(rel, dict):  # a Hugging Face dataset
                files[split][lang] = _hf_spec(path, where, rel)
                continue
            file = (path.parent / str(rel)).resolve()
            if file.suffix not in FORMATS:
                raise _err(path, where, f"{rel}: unknown format; use {', '.join(FORMATS)}")
            if not_a_file(file) is not None:
                raise _err(path, where, misplaced_file_message(file, "a data file", "give the file's path"))
            if not file.is_file():
                raise _err(path, where, f"file not found: {file}")
            files[split][lang] = str(file)
    if source not in files.get("train", {}):
        raise _err(path, "splits.train", f"needs a file for the source language '{source}'")
    for split in ("train", "dev"):  # a run trains and selects its model on the source language only
        for lang in files.get(split, {}):
            if lang != source:
                raise _err(
                    path,
                    f"splits.{split}.{lang}",
                    f"a run trains and selects its model on the source language '{source}' only, so this file "
                    f"would never be read; remove it, or make '{lang}' the source_language",
                )
    if files.get("dev", {}).get(source) is not None and files["dev"][source] == files["train"][source]:
        raise _err(
            path,
            f"splits.dev.{source}",
            "is the train file: model selection would score training rows; give a file disjoint from it, or leave "
            "splits.dev out (dev is then sampled from the train rows left after the k training examples)",
        )
    for lang in languages:
        if lang not in files.get("test", {}):
            raise _err(path, f"splits.test.{lang}", f"language '{lang}' has no test data")
    method_options: dict[str, dict] = {}
    pct = _pct_fields(path, data, fields, labels, languages, source)
    if pct:
        method_options["pct"] = pct
    if "dp_template" in data:  # checked by DP (xlprompt.methods.discrete_prompt.recipe.check_task_options)
        method_options["dp"] = {"template": data["dp_template"]}
    dictionary_files = _dictionary_files(path, data, languages, source)
    return Task(
        name=name,
        labels=labels,
        languages=languages,
        label_words=default,
        text_fields=fields,
        source_language=source,
        language_label_words=table,
        tiny_label_words=tiny,
        method_options=method_options,
        parallel_default="tatoeba",
        parallel_refused={},
        files=files,
        columns=columns,
        label_column=label_column,
        origin=str(path),
        load_dictionaries=(lambda task: read_task_dictionaries(dictionary_files)) if dictionary_files else None,
    )


def _dictionary_files(path, data, languages, source) -> dict[str, str]:
    """The ``dictionaries`` field: {target language: dictionary file (absolute)}, each checked to exist."""
    entry = data.get("dictionaries")
    if entry is None:
        return {}
    if not isinstance(entry, dict) or not entry:
        raise _err(path, "dictionaries", "maps target languages to bilingual dictionary files ('source target' lines)")
    out = {}
    for lang, rel in entry.items():
        where = f"dictionaries.{lang}"
        if lang not in languages or lang == source:
            targets = ", ".join(x for x in languages if x != source)
            raise _err(path, where, f"'{lang}' is not a target language ({targets})")
        file = (path.parent / str(rel)).resolve()
        if not file.is_file():
            raise _err(path, where, f"file not found: {file}")
        out[lang] = str(file)
    return out


def read_task_dictionaries(files: dict[str, str]) -> dict[str, dict[str, list[str]]]:
    """Read a task file's dictionaries.

    Args:
        files (dict[str, str]): target language → dictionary file (MUSE's format, ``source target`` per line).

    Returns:
        dict[str, dict[str, list[str]]]: target language → source word → its translations.
    """
    from xlprompt.data.muse import read_dictionary

    return {lang: read_dictionary(file) for lang, file in files.items()}


def _pct_fields(path, data, fields, labels, languages, source):
    """PCT's options from the task file's PCT fields: templates by language, draw languages and label words
    (:func:`xlprompt.methods.pct.recipe.task_resources` reads them); {} without ``pct_templates``."""
    if "pct_templates" not in data:
        for key in ("pct_draw_languages", "pct_label_words"):
            if key in data:
                raise _err(path, key, "needs the field 'pct_templates' (PCT runs only with its templates)")
        return {}
    entry = data["pct_templates"]
    if not isinstance(entry, dict):
        raise _err(path, "pct_templates", 'maps every language to its template, e.g. en: "Text: {} Label: <mask>"')
    templates = {}
    for lang, text in entry.items():
        where = f"pct_templates.{lang}"
        if lang not in languages:
            raise _err(path, where, f"'{lang}' is not one of languages ({', '.join(languages)})")
        if not isinstance(text, str):
            raise _err(path, where, "needs a string with {} (the text) and <mask>")
        if text.count("{}") != 1 or text.count("<mask>") != 1:
            raise _err(
                path,
                where,
                f"needs {{}} ({'the second text' if len(fields) > 1 else 'the text'}) once and "
                f"<mask> once, got {text!r}",
            )
        if text.replace("{}", "").count("{") or text.replace("{}", "").count("}"):
            raise _err(path, where, f"has a brace other than the one {{}}: {text!r}")
        if text.index("<mask>") < text.index("{}"):
            raise _err(path, where, "<mask> must come after {} (a cut-off <mask> is repaired from the part after {})")
        templates[lang] = text
    for lang in languages:
        if lang not in templates:
            raise _err(path, f"pct_templates.{lang}", f"language '{lang}' has no PCT template")
    others = tuple(lang for lang in languages if lang != source)
    draw = _str_list(path, data, "pct_draw_languages") if "pct_draw_languages" in data else others
    for lang in draw:
        if lang not in languages:
            raise _err(path, "pct_draw_languages", f"'{lang}' is not one of languages ({', '.join(languages)})")
    if not draw:
        raise _err(
            path,
            "pct_draw_languages",
            "PCT's second template needs a language other than the source; give at least two languages",
        )
    options = {"templates": templates, "draw_languages": tuple(draw)}
    if "pct_label_words" in data:
        options["label_words"] = _str_list(path, data, "pct_label_words", (len(labels),))
    return options


HF_KEYS = ("dataset", "config", "split", "data_files")


def _hf_spec(path: Path, where: str, spec: dict) -> str:
    """A split given as ``{dataset: NAME, config: CFG, split: SPLIT}`` (``datasets.load_dataset(NAME, CFG,
    split=SPLIT)``; ``data_files``: local files relative to the task file, e.g. for ``dataset: json``)."""
    import json

    for key in spec:
        if key not in HF_KEYS:
            raise _err(path, f"{where}.{key}", f"unknown field; a dataset entry has {', '.join(HF_KEYS)}")
    if not isinstance(spec.get("dataset"), str) or not isinstance(spec.get("split", "train"), str):
        raise _err(path, f"{where}.dataset", "needs a dataset name (and a split name, default train)")
    out = {"dataset": spec["dataset"], "config": spec.get("config"), "split": spec.get("split", "train")}
    if "data_files" in spec:
        files = spec["data_files"] if isinstance(spec["data_files"], list) else [spec["data_files"]]
        resolved = [(path.parent / str(f)).resolve() for f in files]
        for f in resolved:
            if not_a_file(f) is not None:
                raise _err(
                    path, f"{where}.data_files", misplaced_file_message(f, "a data file", "give the file's path")
                )
            if not f.is_file():
                raise _err(path, f"{where}.data_files", f"file not found: {f}")
        out["data_files"] = [str(f) for f in resolved]
    return "hf:" + json.dumps(out, sort_keys=True) + f"@{path}:{where}"


def _hf_rows(entry: str) -> list[tuple[int, dict]]:
    """(row number, record) of a Hugging Face dataset split (read through the local ``datasets`` cache; runs never
    download: set HF_DATASETS_OFFLINE=1 on a machine without internet)."""
    import json

    spec_text, _, where = entry[3:].rpartition("@")
    spec = json.loads(spec_text)
    try:
        import datasets

        kwargs = {"data_files": spec["data_files"]} if spec.get("data_files") else {}
        data = datasets.load_dataset(spec["dataset"], spec.get("config"), split=spec["split"], **kwargs)
    except Exception as err:  # a library error of any kind: one line naming the task file and field
        first = (str(err).strip().splitlines() or [type(err).__name__])[0]
        raise ConfigError(
            f"{where}: the dataset {spec['dataset']!r} ({spec.get('config')}, split "
            f"{spec['split']!r}) could not be loaded: {first}"
        ) from None
    return [(i + 1, dict(row)) for i, row in enumerate(data)]


_EXTRA = "\0extra"  # csv.DictReader's key of the fields beyond the header's
_MISSING = object()  # its value of the header's fields a short row lacks


def _rows(file: str) -> list[tuple[int, dict]]:
    """(line, record) of a TSV, CSV or JSONL file, or (row, record) of a Hugging Face dataset split."""
    from xlprompt.data.tsv import read_jsonl, read_tsv

    if file.startswith("hf:"):
        return _hf_rows(file)

    if file.endswith(".tsv"):
        return [(row.line, dict(row)) for row in read_tsv(file)]
    if file.endswith(".jsonl"):
        return [(row.line, dict(row)) for row in read_jsonl(file)]
    try:
        with open(file, encoding="utf-8-sig", newline="") as handle:
            reader = csv.DictReader(handle, restkey=_EXTRA, restval=_MISSING)
            rows = []
            for row in reader:
                if _EXTRA in row or _MISSING in row.values():
                    # an unquoted comma splits a text: refused, as the TSV reader refuses a row of other width
                    found = (
                        len(reader.fieldnames or ())
                        + len(row.get(_EXTRA, ()))
                        - sum(1 for v in row.values() if v is _MISSING)
                    )
                    raise DataError(
                        f"{found} fields, the header has {len(reader.fieldnames or ())}; quote a "
                        'text that holds a comma ("a, b")',
                        file,
                        reader.line_num,
                    )
                rows.append((reader.line_num, row))
            return rows
    except (UnicodeDecodeError, csv.Error) as err:
        raise DataError(f"not a valid UTF-8 CSV file ({err})", file) from None


def _shown(task: Task, split: str, lang: str) -> str:
    """The file of a split as messages name it (a Hugging Face split: the task file that names it)."""
    file = task.files[split][lang]
    return file.rpartition("@")[2].split(":", 1)[0] if file.startswith("hf:") else file


def read_split(task: Task, split: str, lang: str) -> list[NLIExample]:
    """One split of one language of a user task; uid ``{task}-{split}-{id or idx column, else the texts' content
    id}`` (:func:`xlprompt.data.examples.content_uid`: a row keeps its id wherever it stands in the file, in every
    language spelling)."""
    file = task.files[split][lang]
    shown = _shown(task, split, lang)
    out = []
    for line, row in _rows(file):
        texts = []
        for name in task.text_fields:
            column = task.columns[name]
            if column not in row:
                raise DataError(
                    f"no column/field '{column}' (text field '{name}'); found: {', '.join(map(str, row))}", shown, line
                )
            value = row[column]
            if not isinstance(value, str) or not value.strip():
                raise DataError(f"'{column}' is empty or not a string", shown, line)
            texts.append(value)
        if task.label_column not in row:
            raise DataError(f"no column/field '{task.label_column}' (the label)", shown, line)
        raw = row[task.label_column]
        try:
            label = task.parse_label(raw if isinstance(raw, int) else str(raw))
        except ValueError:
            raise DataError(
                f"unknown label {raw!r}; allowed: {', '.join(task.labels)} (or 0..{len(task.labels) - 1})", shown, line
            ) from None
        uid = row.get("id") or row.get("idx") or content_uid(*texts)  # the data's id, else the texts' (no position)
        out.append(NLIExample(texts[0], texts[1] if len(texts) > 1 else "", label, lang, f"{task.name}-{split}-{uid}"))
    if not out:
        raise DataError("no rows", shown)
    return out


def load_user_data(task: Task, config):
    """(train, dev, test by language, eval split, notes) of a user task."""
    from xlprompt.data.fewshot import sample_k_per_class

    source = task.source_language
    pool = read_split(task, "train", source)
    train = sample_k_per_class(
        pool,
        config.shots,
        config.seed,
        label_names=task.labels,
        where=f"task {task.name}, split train ({source}): {_shown(task, 'train', source)}",
    )
    if source in task.files.get("dev", {}):
        dev_pool = read_split(task, "dev", source)
        where = f"task {task.name}, split dev ({source}): {_shown(task, 'dev', source)}"
    else:
        from xlprompt.leaks import normalise

        chosen = {ex.uid for ex in train}
        texts = {(normalise(ex.premise), normalise(ex.hypothesis)) for ex in train}
        # the rest of the train rows, less any row that repeats a training example's text (a duplicate row)
        dev_pool = [
            ex for ex in pool if ex.uid not in chosen and (normalise(ex.premise), normalise(ex.hypothesis)) not in texts
        ]
        where = (
            f"task {task.name}, dev split (sampled from the train rows left after the k training examples; "
            f"give splits.dev.{source}): {_shown(task, 'train', source)}"
        )
    dev = sample_k_per_class(dev_pool, config.shots, config.seed + 10_000, label_names=task.labels, where=where)
    cap = config.eval_max_per_language
    test = {lang: read_split(task, "test", lang)[:cap] for lang in config.languages()}
    notes = [f"task {task.name} ({task.origin}): k per class sampled with seed {config.seed} from its train file"]
    from xlprompt.tasks.base import TaskSplits

    return TaskSplits(train, dev, test, "test", notes)
