"""The recipe of pct: each config key's default under ``recipe=reference`` (its authors' code) and where it
comes from. Torch-free, so that configs resolve and ``--help-config`` answers without loading a model."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Mapping

from xlprompt.languages import TARGET_LANGUAGES
from xlprompt.tasks.xnli import PCT_TEMPLATE_WORDS

#: bumped from 1: the reference recipe's optimiser became keras_bert's AdamWarmup (``adam_keras``, ``keras_warmup``);
#: ``--set optimizer=adamw --set lr_scheduler=linear`` gives revision 1's torch AdamW and schedule
REVISION = 2

#: PCT: config key → default under recipe=reference (see methods/__init__.py), and its source
RECIPE: dict[str, Any] = {
    "max_length": 128,
    "epochs": 50,
    "batch_size": 32,
    "lr": 2e-05,
    "optimizer": "adam_keras",
    "weight_decay": 0.0,
    "weight_decay_exempt": "-",
    "lr_scheduler": "keras_warmup",
    "warmup_ratio": 0.1,
    "min_lr_ratio": 0.1,
    "max_grad_norm": 0.0,
    "strip_punctuation": False,
    "template_punctuation": "glued",
    "label_words": "63736,11354,157",
    "label_words_as": "id",
    "scoring": "vocab",
    "predict_over": "vocab",
    "pct_kl_space": "vocab",
    "pct_language_draw": "example",
    "pct_layout": "reference",
    "pct_kl_clip": 1e-7,
}
RECIPE_SOURCES: dict[str, str] = {
    "max_length": "qikunxun/PCT@4b3d675 train_xnli_fewshot.py:22 (SEQ_LEN)",
    "epochs": "qikunxun/PCT@4b3d675 train_xnli_fewshot.py:24",
    "batch_size": "qikunxun/PCT@4b3d675 train_xnli_fewshot.py:23",
    "lr": "qikunxun/PCT@4b3d675 train_xnli_fewshot.py:25",
    "optimizer": "qikunxun/PCT@4b3d675 train_xnli_fewshot.py:13,200 (keras_bert AdamWarmup: CyberZHG/keras-bert@2d3590d "
    "keras_bert/optimizers/warmup_v2.py:20 eps 1e-7, :76-113 the update, eps added to sqrt(v) before the bias "
    "correction; with weight decay 0 it is Adam, but not torch's AdamW, whose eps 1e-8 comes after the correction)",
    "weight_decay": "qikunxun/PCT@4b3d675 train_xnli_fewshot.py AdamWarmup without weight_decay (keras_bert default 0; not in the index)",
    "weight_decay_exempt": "no decay at all",
    "lr_scheduler": "qikunxun/PCT@4b3d675 train_xnli_fewshot.py:193-200 (AdamWarmup(total_steps, warmup_steps): "
    "CyberZHG/keras-bert@2d3590d keras_bert/optimizers/warmup_v2.py:87-92, linear decay from step 0)",
    "warmup_ratio": "qikunxun/PCT@4b3d675 train_xnli_fewshot.py:193-198 calc_train_steps(warmup_proportion=0.1) "
    "(CyberZHG/keras-bert@2d3590d keras_bert/optimizers/util.py:18-20: int(total * 0.1))",
    "min_lr_ratio": "qikunxun/PCT@4b3d675 train_xnli_fewshot.py:200 AdamWarmup(min_lr=LR * 0.1)",
    "max_grad_norm": "qikunxun/PCT@4b3d675 train_xnli_fewshot.py (no clipnorm)",
    "strip_punctuation": "qikunxun/PCT@4b3d675 train_xnli.py:71-72 (raw premise; template.format(hypothesis))",
    "template_punctuation": "only for pct_layout=cloze (not the authors')",
    "label_words": "qikunxun/PCT@4b3d675 train_xnli.py:44 (label_map: XLM-R pieces yes, may, no)",
    "label_words_as": "qikunxun/PCT@4b3d675 train_xnli.py:44",
    "scoring": "qikunxun/PCT@4b3d675 train_xnli.py:159-168,187-188 (sparse CE over the vocabulary at <mask>)",
    "predict_over": "qikunxun/PCT@4b3d675 predict_xnli.py (y_pred.argmax over the vocabulary, after l. 150)",
    "pct_kl_space": "qikunxun/PCT@4b3d675 train_xnli.py:189-196,208-209 (KL of the <mask> vocabulary distributions)",
    "pct_language_draw": "qikunxun/PCT@4b3d675 train_xnli.py:92-96 (random.randint once per example at load, seed 1234)",
    "pct_layout": "qikunxun/PCT@4b3d675 train_xnli.py:46-53,72-76 (template strings; tokenizer.encode(premise, hypothesis))",
    "pct_kl_clip": "qikunxun/PCT@4b3d675 train_xnli.py:208 (K.losses.kld: both sides clipped to [K.epsilon()=1e-7, 1])",
}

# --- what PCT needs from a task (its templates, per language), keyed by task
#: PCT's XNLI templates as the authors wrote them (qikunxun/PCT@4b3d675 train_xnli.py:46-53, the same strings in
#: train_xnli_fewshot.py and predict_xnli.py): the hypothesis part of a pair; ``<mask>`` stands for the
#: tokenizer's mask token. Lower-case question words in most languages; Arabic and Urdu put ``<mask>`` first
#: and use ``؟``.
PCT_REFERENCE_TEMPLATES: dict[str, str] = {
    "en": "question:{}? Answer:<mask>",
    "zh": "问题:{}? 答案:<mask>",
    "fr": "question:{}? réponse:<mask>",
    "es": "pregunta:{}? Respuesta:<mask>",
    "de": "frage:{}? Antwort:<mask>",
    "el": "ερώτηση:{}? Απάντηση:<mask>",
    "bg": "въпрос: {}? Отговор:<mask>",
    "ru": "вопрос:{}? Ответ:<mask>",
    "tr": "soru:{}? Cevap:<mask>",
    "vi": "câu hỏi:{}? Trả lời:<mask>",
    "th": "คำถาม:{}? คำตอบ:<mask>",
    "hi": "प्रश्न:{}? उत्तर:<mask>",
    "sw": "swali: {}? Jibu: <mask>",
    "ur": "<mask>:سوال: {}؟ جواب",
    "ar": "<mask>:سؤال:{}؟ الجواب",
}

#: PCT's PAWS-X templates (qikunxun/PCT@4b3d675 train_pawsx.py:47-52)
PCT_PAWSX_TEMPLATES: dict[str, str] = {
    "en": "Question:{} paraphrase or not? Answer:<mask>",
    "zh": "问题：{} 是否转述? 答案：<mask>",
    "fr": "Question:{} paraphrase ou pas? Réponse:<mask>",
    "es": "Pregunta: {} ¿parafrasear o no? Respuesta: <mask>",
    "de": "Frage:{} paraphrasieren oder nicht? Antwort:<mask>",
    "ja": "質問：{}言い換えるかどうか?回答：<mask>",
    "ko": "질문:{} 의역 여부는? 답:<mask>",
}


@dataclass(frozen=True)
class PCTTaskResources:
    """PCT's templates for a task: one per language, the ``<mask>`` repair rule ("question": XNLI's, "brace":
    train_pawsx.py:75-80), the languages its second template is drawn from, its label words
    ``(words, label_words_as)`` where its authors chose others than the task's (None: the task's), and the
    words (question, answer) of ``pct_layout=cloze`` per language (None: the task has no cloze template)."""

    templates: Mapping[str, str]
    repair: str
    draw_languages: tuple[str, ...]
    label_words: tuple[str, str] | None = None
    cloze_words: Mapping[str, tuple[str, str]] | None = None


TASK_RESOURCES: dict[str, PCTTaskResources] = {
    "xnli": PCTTaskResources(
        templates=PCT_REFERENCE_TEMPLATES,
        repair="question",
        draw_languages=TARGET_LANGUAGES,  # train_xnli.py:92-96: one of the 14 others
        cloze_words=PCT_TEMPLATE_WORDS,
    ),
    "pawsx": PCTTaskResources(
        templates=PCT_PAWSX_TEMPLATES,
        repair="brace",
        draw_languages=("fr", "es", "de", "ja", "ko", "zh"),  # train_pawsx.py:53 language_list
        # label_map (train_pawsx.py:46): '0' -> 157 (XLM-R piece 'no'), '1' -> 63736 ('yes'), as token ids
        label_words=("157,63736", "id"),
    ),
}


def task_resources(task) -> PCTTaskResources | None:
    """PCT's resources for ``task``: its entry above, else what the task file gives (``pct_templates``,
    ``pct_draw_languages``, ``pct_label_words``: :mod:`xlprompt.tasks.user`); None for none."""
    if task.name in TASK_RESOURCES:
        return TASK_RESOURCES[task.name]
    options = task.method_options.get("pct")
    if not options:
        return None
    words = options.get("label_words")
    return PCTTaskResources(
        dict(options["templates"]),
        "brace",
        tuple(options["draw_languages"]),
        (",".join(words), "word") if words else None,
    )


def task_support(task) -> str | None:
    if task_resources(task) is not None:
        return None
    if task.name in ("sib200", "americasnli"):
        return (
            f"PCT pairs each example with a template in a second language drawn from its template languages; "
            f"its authors wrote templates for XNLI's and PAWS-X's languages only, none for {task.name}'s"
        )
    if task.origin.startswith("built-in"):
        return "it needs PCT templates for this task, which xlprompt has for XNLI and PAWS-X only"
    return "the task file gives no PCT templates (add the field 'pct_templates': one per language)"


def task_label_words(task) -> tuple[str, str] | None:
    resources = task_resources(task)
    return resources.label_words if resources is not None else None
