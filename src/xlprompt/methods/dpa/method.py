"""DPA — Dual Prompt Augmentation (Zhou, Li, Jiang, Bing; Findings of ACL 2023), as DAMO-NLP-SG/DPA runs it.

``dpa-xnli.sh`` (commit 6c57272; identical at 954840c) runs ``run-prompt.py --tune_LM --mixup_strategy hidden
--mixup_alpha 1.2 --multi_lingual_optim`` with ``--per_device_train_batch_size 2 --gradient_accumulation_steps 4
--learning_rate 1e-5 --lr_scheduler_type constant --num_train_epochs 50`` and model selection on the dev accuracy
every epoch (``--evaluation_strategy epoch --load_best_model_at_end --metric_for_best_model eval_accuracy``),
with the Hugging Face Trainer of ``transformers==4.10.3`` (its README). xlprompt runs the same method on its fixed
few-shot splits (k per class). DPA samples its own: ``--max_train_samples 32`` is passed to ``balanced_sampler``
(balanced_data_processor.py:9-16, run-prompt.py:406-409), which draws 32 examples *per class* (96 in all) from the
hub's XNLI train split.

* **Template** (prompt_helper.py:325-354 ``convert_examples_to_prmopts``), built as a string and tokenised whole
  (run-prompt.py:391-403), :class:`DPATemplate`::

      <s> X_P[ .] </s> X_H? <mask> . </s>

  ``" ."`` is appended to the premise when it ends in an ASCII letter or digit; a hypothesis ending in ``!`` or
  ``.`` gets that character replaced by ``?``, one not ending in ``?`` gets ``" ?"`` (:func:`dpa_prompt`). The
  rules act on the raw string (``strip_punctuation=false``), so ``"word ."`` becomes ``"word ?"`` (the piece
  ``▁?``) and a full-width ``！`` or ``？`` gets ``" ?"``. Difference: the reference truncates the whole string from
  the end (``truncation=True``, which can cut ``<mask>``), xlprompt only the premise and hypothesis (longest
  first); they differ only beyond ``max_length`` tokens.
* **Label words**: prompt_helper.py ``_setup_global_verbalizers`` (yes / maybe / no for English, their
  translations for the 14 others: :data:`~xlprompt.methods.dpa.recipe.DPA_LABEL_WORDS`); a word's token is its
  last piece (``tokenizer.encode(verb)[-2]``, prompt_helper.py:317). ``label_words_file`` replaces the table.
* **Multilingual label-word optimisation** (``multi_lingual_optim``; ``modeling_xlmr.py`` ``forward`` and
  ``prompt_helper.py`` ``convert_en_mlm_label_to_all``): the full-vocabulary CE at ``<mask>`` is computed with the
  gold class's label word of each of the 15 languages as the target, and averaged over the languages.
* **Mixup of the hidden states at <mask>** (``mixup_strategy=hidden``; ``modeling_xlmr.py`` ``mixup_input`` and
  ``mixup_loss_multilingual``): for the two rows of a batch, ``λ ~ Beta(α, α)`` and the last-layer hidden
  state at ``<mask>`` of a third, virtual row is ``λ h_0 + (1 − λ) h_1`` (before the MLM head). Its loss is
  ``λ CE(y_0) + (1 − λ) CE(y_1)`` (per language, averaged), and the step's loss is
  ``2/3 · L_normal + 1/3 · L_mixed`` ("to adjust the actual average"). The reference asserts a batch of 2; here a
  batch of B rows makes P = ⌊B/2⌋ pairs (rows 2j, 2j+1), one λ each, and the weights are B/(B+P) and P/(B+P)
  (2/3 and 1/3 for B = 2); a last odd row (k = 1: 3 examples) is not mixed.
* **Test**: the argmax over the source language's (XNLI: English) label words' logits for every language
  (``separate_lan_label_word`` False by default: ``dpa_test_label_words=source``; it offers the reference's other
  two choices).
* **The whole LM trains** (``--tune_LM``; ``use_soft_prompt`` is off in ``dpa-xnli.sh``, so no soft prompt).

Recipe (:data:`RECIPE`): ``dpa-xnli.sh`` and the ``TrainingArguments`` defaults of transformers 4.10 for what it
leaves unset (weight decay 0, clipping 1.0, no warm-up), with the framework's own numerics: transformers 4.10's
``AdamW`` (``optimizer=adamw_hf``: ε added to √v before the bias correction; torch's AdamW moves parameters with
small gradients differently) and its Trainer's accumulation rule (``grad_accumulation_leftover=carry``: each
micro-batch's loss is divided by 4, an optimiser step follows every 4 micro-batches of an epoch, and an epoch's
leftover micro-batches add their gradients to the next epoch's first step unless the epoch has at most 4). On
the fixed splits (3k/2 micro-batches of 2) the leftover rule matters at k = 4 (6 micro-batches: 1 step per
epoch, 2 leftovers carried) and wherever 3k/2 is not a multiple of 4.

Known bugs of the authors' script, and what xlprompt does: run-prompt.py:305 and :316 read
``predict_dataset.features`` before ``predict_dataset`` is defined (l. 322), so ``--do_train`` (and ``--do_eval``,
which ``--evaluation_strategy epoch`` turns on) stop with a NameError as written; the label list is
entailment / neutral / contradiction, which xlprompt's task gives directly.
"""

from __future__ import annotations

from typing import Sequence

import torch

from xlprompt.batching import TokenizedExample, TokenizedPair, collate
from xlprompt.errors import ConfigError, ModelError
from xlprompt.methods.base import LossOutput, Method
from xlprompt.methods.dpa.recipe import DPA, RECIPE, RECIPE_SOURCES, SH, TASK_LABEL_WORDS  # noqa: F401  (re-exported)
from xlprompt.methods.field_common import label_table, table_from_config
from xlprompt.template import EncodedInput, truncate_longest_first


def dpa_prompt(premise: str, hypothesis: str, sep_token: str, mask_token: str) -> str:
    """The prompt string of ``Prompt_Helper.convert_examples_to_prmopts`` (DAMO-NLP-SG/DPA prompt_helper.py:325-354):
    ``" ."`` appended to a premise that ends in an ASCII letter or digit (l. 331-338); a hypothesis not ending in
    ``?`` has a final ``!`` or ``.`` replaced by ``?`` (l. 339-343), else ``" ?"`` appended (l. 344-345); then
    ``"{} {} {} {} .".format(premise, sep, hypothesis, mask)`` (l. 329, 346-353). An empty text is left as it is
    (the reference's ``text[-1]`` would raise)."""
    if (
        premise
        and premise[-1] != "."
        and ("a" <= premise[-1] <= "z" or "A" <= premise[-1] <= "Z" or "0" <= premise[-1] <= "9")
    ):
        premise += " ."
    if hypothesis and hypothesis[-1] != "?":
        hypothesis = hypothesis[:-1] + "?" if hypothesis[-1] in ("!", ".") else hypothesis + " ?"
    return "{} {} {} {} .".format(premise, sep_token, hypothesis, mask_token)


class DPATemplate:
    """DPA's input: :func:`dpa_prompt` tokenised as one string with the special tokens, as run-prompt.py:391-403
    does (``tokenizer(prompts, truncation=True, max_length=...)``); for XLM-R
    ``<s> P[ .] </s> H? <mask> . </s>``. Inputs longer than ``max_length`` are cut in the premise and the hypothesis
    (longest first, between ``<s>`` and the separator and between the separator and ``<mask>``), so the ``<mask>``
    always survives; the reference cuts the whole string from its end (which can cut ``<mask>``). Each distinct
    pair is tokenised once (a cache)."""

    def __init__(self, tokenizer, special, max_length: int):
        if tokenizer.sep_token is None or tokenizer.mask_token is None:
            raise ModelError(
                "DPA's prompt needs a tokenizer with a separator and a mask token (its template is "
                "'P </s> H? <mask> .'); use a masked-LM tokenizer such as xlm-roberta-base's"
            )
        self.tokenizer, self.special = tokenizer, special
        self.max_length = int(max_length)
        self.name = "dpa"
        self._cache: dict[tuple[str, str], EncodedInput] = {}

    def encode_text(self, premise: str, hypothesis: str) -> EncodedInput:
        key = (premise, hypothesis)
        if key not in self._cache:
            if len(self._cache) >= 200_000:  # a bound on memory over many evaluation languages
                self._cache.clear()
            self._cache[key] = self._encode(premise, hypothesis)
        return self._cache[key]

    def warm(self, pairs) -> None:
        """Tokenise the prompts of many (premise, hypothesis) pairs in batches (the fast tokenizer's batch call)."""
        missing = list(dict.fromkeys(pair for pair in pairs if pair not in self._cache))
        tok = self.tokenizer
        for start in range(0, len(missing), 2048):
            chunk = missing[start : start + 2048]
            if len(self._cache) + len(chunk) > 200_000:
                self._cache.clear()
            encoded = tok([dpa_prompt(p, h, tok.sep_token, tok.mask_token) for p, h in chunk])["input_ids"]
            for pair, ids in zip(chunk, encoded):
                self._cache[pair] = self._fit(list(ids))

    def _encode(self, premise: str, hypothesis: str) -> EncodedInput:
        tok = self.tokenizer
        return self._fit(tok(dpa_prompt(premise, hypothesis, tok.sep_token, tok.mask_token))["input_ids"])

    def _fit(self, ids: list[int]) -> EncodedInput:
        tok, s = self.tokenizer, self.special
        mask = len(ids) - 1 - ids[::-1].index(s.mask_id)
        if len(ids) > self.max_length:
            start = len(s.prefix)
            sep = ids.index(tok.sep_token_id, start)
            rest = ids[mask:]  # <mask> . </s>
            budget = self.max_length - start - 1 - len(rest)
            if budget < 2:
                raise ConfigError(f"max_length={self.max_length} leaves no room for DPA's premise and hypothesis")
            n_p, n_h = truncate_longest_first(sep - start, mask - sep - 1, budget)
            ids = ids[: start + n_p] + [ids[sep]] + ids[sep + 1 : sep + 1 + n_h] + rest
            mask = start + n_p + 1 + n_h
        return EncodedInput(tuple(ids), (), mask)


def mixup_loss(
    log_probs: torch.Tensor, labels: torch.Tensor, lang_ids: torch.Tensor, lambdas: torch.Tensor | None
) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
    """DPA's loss from the log-softmax over the vocabulary of B real rows then P mixed rows.

    ``lang_ids`` [L, 3]: each language's label-word ids; ``lambdas`` [P] (None: no mixup).
    Returns (loss, normal part, mixed part)."""
    b = labels.shape[0]
    targets = lang_ids[:, labels]  # [L, B]: every language's word for the gold class
    normal = -log_probs[:b].gather(1, targets.T).mean()  # mean over rows and languages
    if lambdas is None or lambdas.numel() == 0:
        return normal, normal, normal.new_zeros(())
    p = lambdas.shape[0]
    mixed = log_probs[b : b + p]  # [P, V]
    first, second = targets[:, 0 : 2 * p : 2], targets[:, 1 : 2 * p : 2]  # [L, P]
    ce_first = -mixed.gather(1, first.T)  # [P, L]
    ce_second = -mixed.gather(1, second.T)
    fake = (lambdas[:, None] * ce_first + (1 - lambdas[:, None]) * ce_second).mean()
    loss = normal * (b / (b + p)) + fake * (p / (b + p))
    return loss, normal, fake


class DualPromptAugmentation(Method):
    name = "dpa"

    def __init__(self, config, plm, tokenizer, verbalizer):
        super().__init__(config, plm, tokenizer, verbalizer)
        if config.freeze_plm:  # DAMO-NLP-SG/DPA run-prompt.py raises the same: a hard prompt has nothing else to train
            raise ConfigError(
                f"{config.method}: freeze_plm=true leaves nothing to train (a hard template has no "
                "parameters of its own); set freeze_plm=false"
            )
        self.template = DPATemplate(tokenizer, self.special, config.max_length)
        task = self.task
        table = table_from_config(config, TASK_LABEL_WORDS.get(task.name))
        self.table_ids = label_table(
            tokenizer, table, "DPA label words", rule="last", labels=task.labels, languages=task.languages
        )
        source = self.source_language
        if source not in self.table_ids:
            raise ConfigError(
                f"DPA needs label words for the task's source language '{source}' (the training language) in its table"
            )
        langs = list(self.table_ids) if config.dpa_multilingual_optim else [source]
        self.optim_langs = tuple(langs)
        self.register_buffer("_optim_ids", torch.tensor([self.table_ids[lang] for lang in langs]), persistent=False)

    def encode_for_eval(self, example: TokenizedExample, lang: str) -> EncodedInput:
        if not example.premise_text and example.premise:
            raise ModelError(
                f"example {example.uid}: DPA tokenises its prompt string from the texts, but this "
                "example carries only token ids (build it with xlprompt.batching.TokenCache)"
            )
        return self.template.encode_text(example.premise_text, example.hypothesis_text)

    def prepare_inputs(self, examples: Sequence[TokenizedExample]) -> None:
        self.template.warm((ex.premise_text, ex.hypothesis_text) for ex in examples)

    def mask_hidden(self, batch: Sequence[TokenizedExample]) -> torch.Tensor:
        """The last layer's hidden state at ``<mask>`` [B, d] (before the MLM head: where DPA mixes)."""
        inputs = collate(
            [self.encode_for_eval(ex, self.source_language) for ex in batch], self.special.pad_id, self.device
        )
        return self.plm.encode_at(self.plm.embed(inputs.input_ids), inputs.attention_mask, inputs.mask_positions)

    def draw_lambdas(self, n: int) -> torch.Tensor:
        """``λ ~ Beta(α, α)``, one per pair (torch's global RNG: seeded by the run, saved in checkpoints)."""
        alpha = torch.tensor(float(self.config.dpa_mixup_alpha))
        return torch.distributions.Beta(alpha, alpha).sample((n,)).to(self.device)

    def training_loss(
        self, batch: Sequence[TokenizedExample], parallel: Sequence[TokenizedPair] | None, generator: torch.Generator
    ) -> LossOutput:
        hidden = self.mask_hidden(batch)
        pairs = len(batch) // 2 if self.config.dpa_mixup_strategy == "hidden" else 0
        lambdas = None
        if pairs:
            lambdas = self.draw_lambdas(pairs)
            mixed = lambdas[:, None] * hidden[0 : 2 * pairs : 2] + (1 - lambdas[:, None]) * hidden[1 : 2 * pairs : 2]
            hidden = torch.cat([hidden, mixed])
        logits = self.plm.vocab_logits(self.plm.head_transform(hidden))
        log_probs = torch.log_softmax(logits.float(), dim=-1)
        loss, normal, fake = mixup_loss(log_probs, self.labels_tensor(batch), self._optim_ids, lambdas)
        return LossOutput(loss, {"ce": normal.item(), "mixup_ce": fake.item()})

    def class_scores(self, batch: Sequence[TokenizedExample], lang: str) -> torch.Tensor:
        hidden = self.plm.head_transform(self.mask_hidden(batch))
        mode = self.config.dpa_test_label_words
        if mode == "max":  # convert_mlm_prediction_scores_to_seqcls_maximum: max(0, max over languages)
            ids = torch.tensor(list(self.table_ids.values()), device=self.device)  # [L, 3]
            scores = self.plm.word_logits(hidden, ids.reshape(-1)).float().view(len(batch), *ids.shape)
            return scores.max(dim=1).values.clamp_min(0.0)
        source = self.table_ids[self.source_language]  # mode source: the source language's words for every language
        words = self.table_ids.get(lang, source) if mode == "language" else source
        return self.plm.word_logits(hidden, torch.tensor(words, device=self.device)).float()
