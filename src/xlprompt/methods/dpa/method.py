"""DPA — Dual Prompt Augmentation (Zhou, Li, Jiang, Bing; Findings of ACL 2023), as DAMO-NLP-SG/DPA runs it.

``dpa-xnli.sh`` (commit 6c57272) runs ``run-prompt.py --tune_LM --mixup_strategy hidden --mixup_alpha 1.2
--multi_lingual_optim`` with ``--per_device_train_batch_size 2 --gradient_accumulation_steps 4 --learning_rate
1e-5 --lr_scheduler_type constant --num_train_epochs 50`` and model selection on the dev accuracy every epoch
(``--evaluation_strategy epoch --load_best_model_at_end --metric_for_best_model eval_accuracy``). xlprompt runs
the same method on its fixed few-shot splits (DPA samples its own balanced 32 examples from the hub's XNLI:
``--max_train_samples 32``, ``balanced_data_processor.py``; those numbers are another protocol).

* **Template** (``prompt_helper.py`` ``convert_examples_to_prmopts``)::

      <s> X_P[ .] </s> X_H? <mask> . </s>

  ``" ."`` is appended to the premise when it ends in an ASCII letter or digit; a hypothesis ending in ``!`` or
  ``.`` gets that character replaced by ``?``, one not ending in ``?`` gets ``" ?"``. The whole string is
  tokenised at once in the reference; ``</s>`` and ``<mask>`` absorb the spaces around them, so the pieces
  here are exactly the reference's (checked on XLM-R's tokenizer in the tests). Difference: the reference
  truncates the whole string from the end (``truncation=True``, which can cut ``<mask>``), xlprompt only the
  premise and hypothesis (longest first); they differ only beyond ``max_length`` tokens.
* **Label words**: ``prompt_helper.py`` ``_setup_global_verbalizers`` (yes / maybe / no for English, their
  translations for the 14 others: :data:`~xlprompt.methods.field_common.DPA_LABEL_WORDS`); a word's token is its
  last piece (``tokenizer.encode(verb)[-2]``, ``get_prompt_labels``). ``label_words_file`` replaces the table.
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
* **Test**: the argmax over the English label words' logits for every language (``separate_lan_label_word``
  False by default; ``dpa_test_label_words`` offers the reference's other two choices).
* **The whole LM trains** (``--tune_LM``; ``use_soft_prompt`` is off in ``dpa-xnli.sh``, so no soft prompt).

Recipe (:data:`RECIPE`): ``dpa-xnli.sh`` and Hugging Face ``TrainingArguments`` defaults for what it leaves
unset (AdamW, weight decay 0, clipping 1.0, no warm-up; ``README.md`` pins ``transformers==4.10.3``).
Gradient accumulation (``grad_accumulation_steps``): each micro-batch's loss is divided by 4 and an optimiser
step follows every 4 micro-batches and the last one of an epoch. transformers 4.10's Trainer steps at the end
of an epoch only when the epoch has at most 4 micro-batches, otherwise it carries the leftover gradients into
the next epoch; on the fixed splits (3k/2 micro-batches of 2) that differs only at k = 4 (6 micro-batches).
"""

from __future__ import annotations

from typing import Any, Sequence

import torch

from xlprompt.batching import TokenizedExample, TokenizedPair, collate
from xlprompt.languages import SOURCE_LANGUAGE
from xlprompt.methods.base import LossOutput, Method
from xlprompt.methods.field_common import DPA_LABEL_WORDS, label_table, table_from_config
from xlprompt.template import HYPOTHESIS, LITERAL, MASK, PREMISE, EncodedInput, Piece, Template, tail_ids, word_ids
from xlprompt.methods.dpa.recipe import DPA, SH, RECIPE, RECIPE_SOURCES, TASK_LABEL_WORDS  # noqa: F401  (re-exported)




def dpa_premise(ids: Sequence[int], tokenizer) -> tuple[int, ...]:
    """``text_a += " ."`` when the premise ends in an ASCII letter or digit (and not in ``.``)."""
    if not ids:
        return tuple(ids)
    last = tokenizer.convert_ids_to_tokens(ids[-1])[-1:]
    if last.isascii() and last.isalnum():
        return tuple(ids) + word_ids(tokenizer, ".")
    return tuple(ids)


def dpa_hypothesis(ids: Sequence[int], tokenizer) -> tuple[int, ...]:
    """Ends in ``?``; a final ``!`` or ``.`` becomes ``?``; otherwise ``" ?"`` is appended."""
    if not ids:
        return tuple(ids)
    piece = tokenizer.convert_ids_to_tokens(ids[-1])
    if piece.endswith("?"):
        return tuple(ids)
    if piece.endswith(("!", ".")):
        head = piece[:-1]
        candidate = tokenizer.convert_tokens_to_ids(head + "?")
        if candidate is not None and candidate != tokenizer.unk_token_id:
            return tuple(ids[:-1]) + (candidate,)
        rest = () if head in ("", "▁") else (tokenizer.convert_tokens_to_ids(head),)
        return tuple(ids[:-1]) + rest + tail_ids(tokenizer, "?")
    return tuple(ids) + word_ids(tokenizer, "?")


def dpa_template(tokenizer, special, max_length: int) -> Template:
    sep = tokenizer.sep_token_id if tokenizer.sep_token_id is not None else special.suffix[-1]
    pieces = [Piece(PREMISE), Piece(LITERAL, (sep,)), Piece(HYPOTHESIS), Piece(MASK),
              Piece(LITERAL, word_ids(tokenizer, "."))]
    return Template(pieces, special, max_length, name="dpa")


def mixup_loss(log_probs: torch.Tensor, labels: torch.Tensor, lang_ids: torch.Tensor,
               lambdas: torch.Tensor | None) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
    """DPA's loss from the log-softmax over the vocabulary of B real rows then P mixed rows.

    ``lang_ids`` [L, 3]: each language's label-word ids; ``lambdas`` [P] (None: no mixup).
    Returns (loss, normal part, mixed part)."""
    b = labels.shape[0]
    targets = lang_ids[:, labels]  # [L, B]: every language's word for the gold class
    normal = -log_probs[:b].gather(1, targets.T).mean()  # mean over rows and languages
    if lambdas is None or lambdas.numel() == 0:
        return normal, normal, normal.new_zeros(())
    p = lambdas.shape[0]
    mixed = log_probs[b:b + p]  # [P, V]
    first, second = targets[:, 0:2 * p:2], targets[:, 1:2 * p:2]  # [L, P]
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
            from xlprompt.errors import ConfigError

            raise ConfigError(f"{config.method}: freeze_plm=true leaves nothing to train (a hard template has no "
                              "parameters of its own); set freeze_plm=false")
        self.template = dpa_template(tokenizer, self.special, config.max_length)
        table = table_from_config(config, DPA_LABEL_WORDS, TASK_LABEL_WORDS.get(config.task_spec().name))
        task = config.task_spec()
        self.table_ids = label_table(tokenizer, table, "DPA label words", rule="last", labels=task.labels,
                                     languages=task.languages)
        if SOURCE_LANGUAGE not in self.table_ids:
            from xlprompt.errors import ConfigError

            raise ConfigError("DPA needs English label words (the training language) in its table")
        langs = list(self.table_ids) if config.dpa_multilingual_optim else [SOURCE_LANGUAGE]
        self.optim_langs = tuple(langs)
        self.register_buffer("_optim_ids", torch.tensor([self.table_ids[lang] for lang in langs]), persistent=False)

    def encode_for_eval(self, example: TokenizedExample, lang: str) -> EncodedInput:
        return self.template.encode(dpa_premise(example.premise, self.tokenizer),
                                    dpa_hypothesis(example.hypothesis, self.tokenizer))

    def mask_hidden(self, batch: Sequence[TokenizedExample]) -> torch.Tensor:
        """The last layer's hidden state at ``<mask>`` [B, d] (before the MLM head: where DPA mixes)."""
        inputs = collate([self.encode_for_eval(ex, "en") for ex in batch], self.special.pad_id, self.device)
        return self.plm.encode_at(self.plm.embed(inputs.input_ids), inputs.attention_mask, inputs.mask_positions)

    def draw_lambdas(self, n: int) -> torch.Tensor:
        """``λ ~ Beta(α, α)``, one per pair (torch's global RNG: seeded by the run, saved in checkpoints)."""
        alpha = torch.tensor(float(self.config.dpa_mixup_alpha))
        return torch.distributions.Beta(alpha, alpha).sample((n,)).to(self.device)

    def training_loss(self, batch: Sequence[TokenizedExample], parallel: Sequence[TokenizedPair] | None,
                      generator: torch.Generator) -> LossOutput:
        hidden = self.mask_hidden(batch)
        pairs = len(batch) // 2 if self.config.dpa_mixup_strategy == "hidden" else 0
        lambdas = None
        if pairs:
            lambdas = self.draw_lambdas(pairs)
            mixed = lambdas[:, None] * hidden[0:2 * pairs:2] + (1 - lambdas[:, None]) * hidden[1:2 * pairs:2]
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
        words = self.table_ids.get(lang, self.table_ids[SOURCE_LANGUAGE]) if mode == "language" \
            else self.table_ids[SOURCE_LANGUAGE]
        return self.plm.word_logits(hidden, torch.tensor(words, device=self.device)).float()
