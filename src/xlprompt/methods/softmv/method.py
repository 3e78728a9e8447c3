"""SoftMV — soft prompting with a multilingual verbalizer and code-switched consistency (Li et al., ACL 2023),
as THU-BPM/SoftMV runs it (commit 3dda7ba; identical at 5afc8b9). Its few-shot script ``ptuning.sh`` runs
``cli.py --pattern_ids 0 --prompt_encoder_type lstm --prompt_length 4 --init_from_vocab --cosda_rate 0`` on one
GPU.

* **Soft-prompt cloze question**, pattern 0 of ``prompt/pvps/xnli_pvp.py`` (l. 52-66)::

      <s> X_P . X_H ? [p1 p2 p3 p4] <mask> . </s>

  premise and hypothesis with trailing ASCII punctuation stripped from the text (``get_parts``, l. 117-125:
  ``strip_punctuation=true``), every part tokenised on its own (``prompt/pvps/pvp.py`` ``_encode``), so ``.`` is
  ``▁`` ``.`` and ``?`` is ``▁?`` with XLM-R, and the four placeholder parts are the word ``the`` (``block_flag``
  1), whose vectors the prompt encoder replaces. The prompt vectors start as the first ``prompt_length`` rows of the
  word embeddings (``--init_from_vocab``), reparameterised by ``prompt_encoder`` (lstm: BiLSTM + MLP).
* **Code-switched copy** (``prompt/pvps/cs_patternization.py`` l. 117-139, 212-273): built once per training
  example before training, from the *raw* text: premise and hypothesis are split at whitespace; each word is,
  with probability ``softmv_cosda_rate``, replaced by a random translation from the dictionary of a random one of
  12 languages (up to 10 further draws of the language until one has the word; a word no draw knows stays, with
  any ``▁`` removed). A sentence-final word keeps its punctuation (``again.``), so no dictionary has it and it is
  never switched; the copy's pattern then strips the trailing punctuation (``trn_get_parts``, l. 133-141). With
  rate 0 the copy is the example itself (l. 124-127). The dictionaries are MUSE's (:mod:`xlprompt.data.muse`;
  ``dictionary_dir``) on XNLI, a task's own elsewhere (:attr:`xlprompt.tasks.base.Task.load_dictionaries`: the
  toy world's, a task file's ``dictionaries``; ``dictionary_dir`` still overrides them); the draws come from a generator seeded with ``(seed, example uid)`` (the reference: Python's
  global ``random`` over the examples in order).
* **Multilingual verbalizer** (``prompt/pvps/pvp.py`` l. 28-47, ``_convert_single_mlm_logits_to_cls_logits_universal``):
  a class's score is the mean over the 15 languages of its label word's MLM logit at ``<mask>``
  (:data:`~xlprompt.methods.softmv.recipe.XNLI_VERBALIZER`; a task file's per-language label words on its task;
  ``label_words_file`` replaces the table), in training
  and at test time, for every language. A word of several pieces is scored by its last piece
  (``prompt/utils.py:212-221``: Greek ``Nαί`` is ``▁N`` ``αί`` → ``αί``; Chinese ``是`` is ``▁`` ``是`` → ``是``).
* **Consistency regularisation** (``prompt/modules/wrapper.py`` ``mlm_train_step``):
  ``CE(s, y) + CE(s_cs, y) + 0.3 · KL(softmax(s_cs) ‖ softmax(s))`` (``nn.KLDivLoss(reduction='batchmean')`` on
  ``log_softmax(s)`` and ``softmax(s_cs)``; gradients reach both sides), ``s`` / ``s_cs`` the verbalizer scores of
  the original and the code-switched input.
* **Training loop** (``prompt/modules/wrapper.py:325-435``, ``prompt/pvps/cs_patternization.py:98-101``): the
  examples in file order every epoch (``SequentialSampler``: ``train_order=sequential``); dev accuracy after every
  epoch; on the single-GPU path of ``ptuning.sh`` the test sets are scored with the last epoch's weights
  (``prompt/trainers/singleton_trainer.py:260-265`` reloads the best dev state only when no model is in memory,
  i.e. after multi-GPU training): ``test_weights=last``.

Differences: the reference truncates the hypothesis first (``PVP.truncate``), xlprompt longest first (only beyond
``max_length`` tokens); the code-switching draws are per example, not one global stream.
"""

from __future__ import annotations

import dataclasses
import random
from typing import Sequence

import torch
import torch.nn.functional as F
from torch import nn

from xlprompt.batching import TokenizedExample, TokenizedPair, strip_trailing_punctuation
from xlprompt.errors import ConfigError, ModelError
from xlprompt.losses import classification_loss
from xlprompt.methods.base import LossOutput, Method
from xlprompt.methods.field_common import label_table, table_from_config
from xlprompt.methods.softmv.recipe import (  # noqa: F401  (re-exported)
    RECIPE,
    RECIPE_SOURCES,
    SH,
    SOFTMV,
    TASK_LABEL_WORDS,
)
from xlprompt.models.prompt_encoder import PromptEncoder, PromptEncoderConfig
from xlprompt.template import HYPOTHESIS, LITERAL, MASK, PREMISE, PROMPT, EncodedInput, Piece, Template, word_ids


def softmv_template(tokenizer, special, prompt_length: int, max_length: int) -> Template:
    """Pattern 0: ``X_P . X_H ? the the the the <mask> .``, each part tokenised on its own; the prompt slots hold the
    ids of ``the`` (their input vectors are replaced by the prompt encoder's)."""
    the = word_ids(tokenizer, "the")
    if len(the) == 1:
        special = dataclasses.replace(special, placeholder_id=the[0])
    dot = word_ids(tokenizer, ".")
    pieces = [
        Piece(PREMISE),
        Piece(LITERAL, dot),
        Piece(HYPOTHESIS),
        Piece(LITERAL, word_ids(tokenizer, "?")),
        Piece(PROMPT, length=prompt_length),
        Piece(MASK),
        Piece(LITERAL, dot),
    ]
    return Template(pieces, special, max_length, name=f"softmv-0-{prompt_length}")


def code_switch(
    words: Sequence[str], dictionaries: dict[str, dict[str, list[str]]], rate: float, rng: random.Random
) -> list[str]:
    """SoftMV's ``convert_token_with_CoSDA`` + ``convert_4_1_token`` on whitespace-split words."""
    langs = list(dictionaries)
    out = []
    for word in words:
        raw = word.replace("▁", "")
        if rng.random() <= rate:
            lang = rng.choice(langs)
            tries = 0
            while tries < 10 and raw not in dictionaries[lang]:
                lang = rng.choice(langs)
                tries += 1
            if raw in dictionaries[lang]:
                out.append(rng.choice(dictionaries[lang][raw]))
                continue
            out.append(raw)  # the reference returns the ▁-stripped word here
        else:
            out.append(word)
    return out


def switch_text(text: str, dictionaries: dict[str, dict[str, list[str]]], rate: float, rng: random.Random) -> str:
    """SoftMV's ``positive_sample`` on one text (cs_patternization.py:216-231): split at whitespace, switch, join
    with single spaces."""
    return " ".join(code_switch(text.strip().split(), dictionaries, rate, rng))


class SoftMultilingualVerbalizer(Method):
    name = "softmv"

    def __init__(self, config, plm, tokenizer, verbalizer):
        super().__init__(config, plm, tokenizer, verbalizer)
        self.template = softmv_template(tokenizer, self.special, config.prompt_length, config.max_length)
        self.prompt_encoder = PromptEncoder(
            PromptEncoderConfig(
                config.prompt_length, plm.hidden_size, config.prompt_encoder, config.prompt_encoder_shape
            )
        )
        if config.softmv_init_from_vocab:
            with torch.no_grad():
                self.prompt_encoder.embedding.copy_(plm.word_embeddings.weight[: config.prompt_length])
        task = self.task
        table = table_from_config(config, TASK_LABEL_WORDS.get(task.name))
        self.table_ids = label_table(
            tokenizer, table, "SoftMV verbalizer", rule="last", labels=task.labels, languages=task.languages
        )
        self.register_buffer("_verbalizer_ids", torch.tensor(list(self.table_ids.values())), persistent=False)
        #: read at the first training step (prediction from a finished run needs no dictionaries); the
        #: folder is resolved here, so a missing setting fails before any work. A task with its own
        #: dictionaries (``Task.load_dictionaries``) uses them unless ``dictionary_dir`` is set.
        self._task_dictionaries = (
            task.load_dictionaries
            if config.softmv_cosda_rate > 0 and task.load_dictionaries is not None and not config.dictionary_dir
            else None
        )
        self._task = task
        self._dictionary_dir = (
            self.dictionary_dir(config) if config.softmv_cosda_rate > 0 and self._task_dictionaries is None else None
        )
        self.dictionaries: dict[str, dict[str, list[str]]] | None = None
        self._switched: dict[tuple, TokenizedExample] = {}

    @staticmethod
    def table_scope(task) -> dict:
        """The labels and languages a label-word table may name: XNLI's, or the task's own."""
        return {} if task.name == "xnli" else {"labels": task.labels, "languages": task.languages}

    @staticmethod
    def dictionary_dir(config) -> str:
        if config.dictionary_dir:
            return config.dictionary_dir
        if not (config.data_dir or "").startswith("builtin:"):
            from xlprompt.data.home import resolve_data_dir
            from xlprompt.data.muse import DEFAULT_SUBDIR

            return str(resolve_data_dir(config.data_dir) / DEFAULT_SUBDIR)  # --data-dir, $XLPROMPT_DATA or default
        raise ConfigError(
            "softmv needs bilingual dictionaries: set dictionary_dir=DIR (MUSE en-XX.txt files; "
            "`xlprompt data fetch --only muse`), or softmv_cosda_rate=0 for no code-switching"
        )

    def extra_modules(self) -> dict[str, nn.Module]:
        return {"prompt_encoder": self.prompt_encoder}

    def encode(self, example: TokenizedExample) -> EncodedInput:
        # the texts were stripped before tokenising (strip_punctuation: get_parts), each on its own
        return self.template.encode(example.premise, example.hypothesis)

    def encode_for_eval(self, example: TokenizedExample, lang: str) -> EncodedInput:
        return self.encode(example)

    def switched(self, example: TokenizedExample) -> TokenizedExample:
        """The code-switched copy of a training example (built once, cached by uid): the raw texts switched word
        by word (:func:`code_switch`), then ``strip_punctuation`` applied to the switched text, then tokenised."""
        if self._dictionary_dir is None and self._task_dictionaries is None:
            return example
        if self.dictionaries is None:
            if self._task_dictionaries is not None:
                self.dictionaries = self._task_dictionaries(self._task)
            else:
                from xlprompt.data.muse import load_dictionaries

                self.dictionaries = load_dictionaries(self._dictionary_dir)
        # the cache key: the id and what the copy is made of (two rows with one id, e.g. a content id of texts
        # repeated with another label, never share a copy)
        key = (example.uid, example.premise_raw, example.hypothesis_raw, example.label)
        if key not in self._switched:
            if not example.premise_raw and example.premise:
                raise ModelError(
                    f"example {example.uid}: SoftMV code-switches the raw texts, but this example "
                    "carries only token ids (build it with xlprompt.batching.TokenCache)"
                )
            rng = random.Random(f"{self.config.seed}:{example.uid}")
            premise, hypothesis = (
                switch_text(text, self.dictionaries, self.config.softmv_cosda_rate, rng)
                for text in (example.premise_raw, example.hypothesis_raw)
            )
            if self.config.strip_punctuation:
                premise, hypothesis = strip_trailing_punctuation(premise), strip_trailing_punctuation(hypothesis)
            ids = self.tokenizer([premise, hypothesis], add_special_tokens=False)["input_ids"]
            self._switched[key] = TokenizedExample(
                tuple(ids[0]),
                tuple(ids[1]),
                example.label,
                example.lang,
                example.uid,
                premise,
                hypothesis,
                example.premise_raw,
                example.hypothesis_raw,
            )
        return self._switched[key]

    def verbalizer_scores(self, mask_hidden: torch.Tensor) -> torch.Tensor:
        """[N, 3]: the mean over the table's languages of each class's label-word logit."""
        ids = self._verbalizer_ids
        logits = self.plm.word_logits(mask_hidden, ids.reshape(-1)).float()
        return logits.view(mask_hidden.shape[0], *ids.shape).mean(1)

    def training_loss(
        self, batch: Sequence[TokenizedExample], parallel: Sequence[TokenizedPair] | None, generator: torch.Generator
    ) -> LossOutput:
        n = len(batch)
        encoded = [self.encode(ex) for ex in batch] + [self.encode(self.switched(ex)) for ex in batch]
        hidden = self.mask_states(encoded, self.prompt_encoder().expand(2 * n, -1, -1))
        scores = self.verbalizer_scores(hidden)
        labels = self.labels_tensor(batch)
        s, s_cs = scores[:n], scores[n:]
        ce = classification_loss(torch.log_softmax(s, -1), labels)
        ce_cs = classification_loss(torch.log_softmax(s_cs, -1), labels)
        kl = F.kl_div(torch.log_softmax(s, -1), torch.softmax(s_cs, -1), reduction="batchmean")
        loss = ce + ce_cs + self.config.softmv_kl_weight * kl
        return LossOutput(loss, {"ce": ce.item(), "ce_cs": ce_cs.item(), "kl": kl.item()})

    def class_scores(self, batch: Sequence[TokenizedExample], lang: str) -> torch.Tensor:
        hidden = self.mask_states([self.encode(ex) for ex in batch], self.prompt_encoder().expand(len(batch), -1, -1))
        return self.verbalizer_scores(hidden)

    def prompts_for_export(self) -> dict[str, torch.Tensor]:
        return {"p_source": self.prompt_encoder().detach()}
