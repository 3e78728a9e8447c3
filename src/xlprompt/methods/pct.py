"""PCT — prompt-learning from cross-lingual templates (Qi et al., 2022), with hard templates.

Template (words in the template's language; see ``template.PCT_TEMPLATE_WORDS``)::

    <s> X_P . Question: X_H ? Answer: <mask> . </s>

Training: each English example is seen in the English template and in the template of a language drawn
at random (uniformly among the 14 others, per example and step, from the epoch's seeded generator).
Loss = CE(English template) + CE(other template) + ``pct_kl_weight`` · symmetric KL between the two
answer distributions at ``<mask>`` (over the label words by default, ``pct_kl_space=vocab`` for the whole
vocabulary). Test: each language's text in its own language's template.
"""

from __future__ import annotations

from typing import Sequence

import torch

from xlprompt.batching import TokenizedExample, TokenizedPair
from xlprompt.languages import TARGET_LANGUAGES, XNLI_LANGUAGES
from xlprompt.losses import classification_loss, symmetric_kl
from xlprompt.methods.base import LossOutput, Method
from xlprompt.scoring import class_log_probs, label_word_logits
from xlprompt.template import EncodedInput, cross_lingual_template


class CrossLingualTemplates(Method):
    name = "pct"

    def __init__(self, config, plm, tokenizer, verbalizer):
        super().__init__(config, plm, tokenizer, verbalizer)
        self.templates = {lang: cross_lingual_template(tokenizer, lang, config.max_length, self.special)
                          for lang in XNLI_LANGUAGES}

    def encode_for_eval(self, example: TokenizedExample, lang: str) -> EncodedInput:
        return self.templates[lang].encode(example.premise, example.hypothesis)

    def training_loss(self, batch: Sequence[TokenizedExample], parallel: Sequence[TokenizedPair] | None,
                      generator: torch.Generator) -> LossOutput:
        n = len(batch)
        draws = torch.randint(len(TARGET_LANGUAGES), (n,), generator=generator).tolist()
        others = [TARGET_LANGUAGES[i] for i in draws]
        encoded = [self.templates["en"].encode(ex.premise, ex.hypothesis) for ex in batch]
        encoded += [self.templates[lang].encode(ex.premise, ex.hypothesis) for ex, lang in zip(batch, others)]
        hidden = self.mask_states(encoded)
        labels = self.labels_tensor(batch)
        ids = self.label_ids("en")
        log_probs = class_log_probs(self.plm, hidden, ids, self.config.scoring)
        ce_en = classification_loss(log_probs[:n], labels)
        ce_other = classification_loss(log_probs[n:], labels)
        if self.config.pct_kl_space == "vocab":
            logits = self.plm.vocab_logits(hidden)
        else:
            logits = label_word_logits(self.plm, hidden, ids)
        kl = symmetric_kl(logits[:n], logits[n:])
        loss = ce_en + ce_other + self.config.pct_kl_weight * kl
        return LossOutput(loss, {"ce": (ce_en.item() + ce_other.item()) / 2, "kl": kl.item()})

    def class_scores(self, batch: Sequence[TokenizedExample], lang: str) -> torch.Tensor:
        hidden = self.mask_states([self.encode_for_eval(ex, lang) for ex in batch])
        return label_word_logits(self.plm, hidden, self.label_ids(lang))
