"""What every method provides to the trainer, the evaluator and the exporter."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Iterator, Sequence

import torch
from torch import nn

from xlprompt.batching import TokenizedExample, TokenizedPair, collate
from xlprompt.config import RunConfig
from xlprompt.device import pin
from xlprompt.errors import ModelError
from xlprompt.models.masked_lm import MaskedLM
from xlprompt.template import EncodedInput, SpecialTokens
from xlprompt.verbalizer import Verbalizer


@dataclass
class LossOutput:
    """What :meth:`Method.training_loss` returns: the loss to minimise and its named parts.

    :param loss: the step's loss, a 0-d tensor with a graph to the trained parameters (the trainer calls
        ``backward`` on it).
    :param parts: named parts of the loss (``ce``, ``kl``, ...), logged per epoch in ``metrics.jsonl``, by the
        Hugging Face ``Trainer``'s :meth:`~xlprompt.PromptModel.loss_parts_callback` and in
        ``PromptModel.last_loss_parts``: floats, or detached 0-d tensors that the trainer reads once per step
        (no host-device synchronisation per micro-batch). Default: none.
    """

    loss: torch.Tensor
    parts: dict[str, float | torch.Tensor] = field(default_factory=dict)


class Method(nn.Module):
    """A few-shot cross-lingual method around a masked LM: the base class of every method, built-in or added with
    :func:`xlprompt.register_method` (the guide "Methods and their sources" has a complete example).

    A subclass implements:

    * :meth:`training_loss` — the loss of one training step (called by the trainer every step, through
      :meth:`gradient_pieces`, and by :meth:`xlprompt.PromptModel.training_loss`);
    * :meth:`class_scores` — the class scores of a batch of inputs in one language (evaluation, dev selection,
      prediction);
    * :meth:`extra_modules` — the modules it adds to the PLM (prompt encoder, translator, head): what trains
      besides the PLM, what is saved and exported;
    * :meth:`encode_for_eval` — its template for evaluation inputs (a method without a template, such as
      fine-tuning, may leave it out);

    and may override :meth:`gradient_pieces` (a step in several backward passes), :meth:`prepare_inputs`
    (tokenise evaluation inputs in one batch), :meth:`eval_length`, :meth:`prompts_for_export`,
    :attr:`uses_parallel` and, for state outside :meth:`extra_modules`, :meth:`trainable_state` /
    :meth:`load_trainable_state`. The shared helpers (:meth:`mask_states`, :meth:`label_ids`,
    :meth:`labels_tensor`) build the usual cloze computation.

    The trainer builds the method once per run as ``factory(config, plm, tokenizer, verbalizer)``, after seeding
    torch with the run's seed (so random initialisations in ``__init__`` are reproducible), and moves it to the
    run's device. A subclass calls ``super().__init__(config, plm, tokenizer, verbalizer)`` first.

    :param config: the resolved run config (the method reads its keys: ``prompt_length``, ``scoring``, ...).
    :param plm: the masked LM (:class:`~xlprompt.models.masked_lm.MaskedLM`); frozen here when
        ``config.freeze_plm``.
    :param tokenizer: the run's Hugging Face tokenizer.
    :param verbalizer: the label words' token ids per language
        (:class:`~xlprompt.verbalizer.Verbalizer`); None for a method without label words (fine-tuning).
    """

    name = "base"
    """The method's name (the config's ``method``); informative: the name it is registered under counts."""
    uses_parallel = False
    """Whether the method trains on the external parallel corpus: True makes the run load the corpus
    (``parallel_source``) and pass a batch of its pairs to :meth:`training_loss` at every step (MPT's alignment
    task); False (default): ``parallel`` is always None."""

    def __init__(self, config: RunConfig, plm: MaskedLM, tokenizer, verbalizer: Verbalizer | None):
        super().__init__()
        self.config = config
        self.plm = plm
        self.tokenizer = tokenizer
        self.verbalizer = verbalizer
        self.special = SpecialTokens.from_tokenizer(tokenizer)
        #: the run's task, and its source language (the language of the few-shot train and dev data)
        self.task = config.task_spec()
        self.source_language: str = self.task.source_language
        if config.freeze_plm:
            for p in self.plm.parameters():
                p.requires_grad_(False)

    @property
    def device(self) -> torch.device:
        """The device of the PLM's word embeddings (where the method computes)."""
        return self.plm.word_embeddings.weight.device

    # ------------------------------------------------------------------ to implement
    def training_loss(
        self, batch: Sequence[TokenizedExample], parallel: Sequence[TokenizedPair] | None, generator: torch.Generator
    ) -> LossOutput:
        """The loss of one training step. Called by the trainer once per step (through :meth:`gradient_pieces`),
        in training mode, under the run's autocast, with gradients on; the trainer then calls ``backward``, clips
        and steps the optimiser over :meth:`parameter_groups`. Must be implemented.

        :param batch: the step's few-shot examples, tokenised (:class:`~xlprompt.batching.TokenizedExample`:
            ``premise`` and ``hypothesis`` token ids without special tokens, ``label`` index, ``lang`` (the task's
            source language), ``uid``).
        :param parallel: the step's pairs of the parallel corpus (:class:`~xlprompt.batching.TokenizedPair`:
            ``source`` and ``target`` sides) when :attr:`uses_parallel` and the run has a corpus; else None.
        :param generator: the step's random-number generator (seeded from the run's seed and the step): draw
            every random choice of the step from it, so that a resumed run repeats them.
        :returns: the loss (a 0-d tensor) and its named parts.
        """
        raise NotImplementedError

    def gradient_pieces(
        self, batch: Sequence[TokenizedExample], parallel: Sequence[TokenizedPair] | None, generator: torch.Generator
    ) -> Iterator[LossOutput]:
        """The step's loss as pieces with independent computation graphs whose losses (and parts) add up to
        :meth:`training_loss`'s. The trainer calls ``backward`` on each piece before the next one is computed,
        so only one piece's activations are alive at a time; the summed gradients are those of the whole loss.

        Default: one piece, :meth:`training_loss` itself. MPT splits its step into micro-batches.

        :param batch: as :meth:`training_loss`'s.
        :param parallel: as :meth:`training_loss`'s.
        :param generator: as :meth:`training_loss`'s.
        :returns: an iterator of :class:`LossOutput`, one per piece.
        """
        yield self.training_loss(batch, parallel, generator)

    def class_scores(self, batch: Sequence[TokenizedExample], lang: str) -> torch.Tensor:
        """The class scores of a batch of inputs in one language, whose argmax is the predicted class. Called in
        evaluation mode under ``torch.inference_mode`` by the evaluator (dev selection, test), by
        :meth:`xlprompt.PromptModel.predict` (which takes their softmax as the class probabilities) and by the
        Hugging Face ``Trainer``'s evaluation. Must be implemented.

        :param batch: tokenised inputs (as :meth:`training_loss`'s ``batch``; ``label`` is not to be read), at
            most ``eval_batch_size``, sorted by :meth:`eval_length`.
        :param lang: their language, one of the task's: it picks the language's prompt, template or label words
            (:meth:`label_ids`).
        :returns: a float tensor [N, C]: C is the task's number of labels (one more column, the best other word,
            with ``predict_over=vocab``; an argmax there counts as wrong).
        """
        raise NotImplementedError

    def encode_for_eval(self, example: TokenizedExample, lang: str) -> EncodedInput:
        """The evaluation input of one example: the method's template filled with its token ids. Called by
        :meth:`eval_length` (the evaluator sorts inputs by length) and, in the built-in methods, by
        :meth:`class_scores`. A method without a template (fine-tuning) need not implement it.

        :param example: a tokenised example.
        :param lang: its language (a method may use a template per language, as PCT).
        :returns: the input ids, the prompt slots' positions and the ``<mask>`` position
            (:class:`~xlprompt.template.EncodedInput`; :func:`~xlprompt.template.soft_prompt_template` builds
            the paper's template).
        """
        raise NotImplementedError

    def eval_length(self, example: TokenizedExample, lang: str) -> int:
        """The length of the example's evaluation input (evaluation batches are sorted by it): the template's,
        or, for a method without one (:meth:`encode_for_eval` not implemented), its two texts' ids.

        :param example: a tokenised example.
        :param lang: its language.
        :returns: the number of input tokens.
        """
        try:
            return len(self.encode_for_eval(example, lang).input_ids)
        except NotImplementedError:
            return len(example.premise) + len(example.hypothesis)

    def prepare_inputs(self, examples: Sequence[TokenizedExample]) -> None:
        """Called before the inputs of many examples are built (evaluation): a method whose template tokenises
        text itself (DPA) tokenises them here in one batch. Default: nothing to do.

        :param examples: the tokenised examples about to be evaluated.
        """

    def extra_modules(self) -> dict[str, nn.Module]:
        """The modules the method adds to the PLM, by name (``prompt_encoder``, ``translator``, ``head``).

        They define what trains besides the PLM (:meth:`parameter_groups`: the optimiser's second group, with
        ``prompt_lr`` where set), what a checkpoint, a run folder (``prompt.safetensors``),
        :meth:`~xlprompt.PromptModel.save_pretrained` and ``xlprompt export`` store (:meth:`trainable_state`),
        and whether prediction needs the trained prompt file. Called whenever those are built; return the same
        modules each time (registered as attributes of the method, so that ``.to(device)`` moves them).

        :returns: name → module; default: none (a method that trains only the PLM). A plain parameter goes in
            a module (``nn.ParameterList([p])``). The names ``plm`` and ``prompt`` are taken (the PLM's
            parameters and :meth:`prompts_for_export`'s vectors are stored under them).
        """
        return {}

    def prompts_for_export(self) -> dict[str, torch.Tensor]:
        """The learned prompt vectors (p_S, p_T, ...) to store with the run (``prompt.safetensors``) and its
        exports. Called once after training, with the selected epoch's state loaded.

        :returns: name → tensor [m, d]; default: none.
        """
        return {}

    # ------------------------------------------------------------------ shared helpers
    def parameter_groups(self) -> tuple[list[nn.Parameter], list[nn.Parameter]]:
        """The parameters that train, in the optimiser's two groups.

        :returns: (PLM parameters that train, the method's own parameters of :meth:`extra_modules`).
        """
        plm = [p for p in self.plm.parameters() if p.requires_grad]
        own = [p for m in self.extra_modules().values() for p in m.parameters() if p.requires_grad]
        return plm, own

    def named_parameter_groups(self) -> tuple[list[tuple[str, nn.Parameter]], list[tuple[str, nn.Parameter]]]:
        """:meth:`parameter_groups` with names (``plm.…`` as in the HF model, ``<module>.…`` for the method's
        own): the weight-decay exemptions match substrings of these names. The trainer builds its optimiser from
        it.

        :returns: ([(name, PLM parameter)], [(name, own parameter)]).
        """
        plm = [(f"plm.{n}", p) for n, p in self.plm.hf_model.named_parameters() if p.requires_grad]
        own = [
            (f"{name}.{n}", p)
            for name, m in self.extra_modules().items()
            for n, p in m.named_parameters()
            if p.requires_grad
        ]
        return plm, own

    def trainable_state(self) -> dict[str, torch.Tensor]:
        """Everything that training changes, by name: the PLM's parameters (each tied tensor once; only
        if the PLM trains) and the state of the method's own modules. Called for checkpoints, for the best
        epoch's state (dev selection) and when a model is saved; override it together with
        :meth:`load_trainable_state` for state outside :meth:`extra_modules`.

        :returns: ``plm.<name>`` → parameter (unless ``freeze_plm``) and ``<module>.<name>`` → tensor of each
            module of :meth:`extra_modules`.
        """
        state = {}
        if not self.config.freeze_plm:
            state.update({f"plm.{k}": p for k, p in self.plm.hf_model.named_parameters()})
        for name, module in self.extra_modules().items():
            state.update({f"{name}.{k}": v for k, v in module.state_dict().items()})
        return state

    def load_trainable_state(self, state: dict[str, torch.Tensor]) -> None:
        """Inverse of :meth:`trainable_state`; copies in place, so tied weights stay tied. Called on resume, after
        training (the selected epoch) and when a saved model loads.

        :param state: a mapping as :meth:`trainable_state` returns.
        :raises KeyError: ``state`` lacks a PLM parameter (when the PLM trains).
        :raises RuntimeError: a module's state does not fit it (``load_state_dict``'s error).
        """
        if not self.config.freeze_plm:
            params = dict(self.plm.hf_model.named_parameters())
            missing = set(params) - {k[4:] for k in state if k.startswith("plm.")}
            if missing:
                raise KeyError(f"state lacks PLM parameters: {sorted(missing)[:3]}")
            with torch.no_grad():
                for name, param in params.items():
                    param.copy_(state[f"plm.{name}"])
        for name, module in self.extra_modules().items():
            prefix = name + "."
            module.load_state_dict({k[len(prefix) :]: v for k, v in state.items() if k.startswith(prefix)})

    def mask_states(self, encoded: Sequence[EncodedInput], prompts: torch.Tensor | None = None) -> torch.Tensor:
        """One forward pass (the last layer at the `<mask>` only); the MLM head's transform there: [N, d].

        :param encoded: the filled templates (padded to the longest here).
        :param prompts: [N, m, d] vectors placed at the inputs' prompt slots (soft-prompt methods); None: the
            slots keep their token embeddings.
        :returns: the hidden states at each input's ``<mask>`` after the MLM head's transform, [N, d]; the
            label words' logits are ``plm.word_logits(states, label_ids)`` (or
            :func:`~xlprompt.scoring.class_log_probs` / :func:`~xlprompt.scoring.prediction_scores`).
        """
        inputs = collate(encoded, self.special.pad_id, self.device)
        embeds = self.plm.embed(inputs.input_ids, inputs.prompt_positions, prompts)
        return self.plm.head_transform(self.plm.encode_at(embeds, inputs.attention_mask, inputs.mask_positions))

    def label_ids(self, lang: str) -> torch.Tensor:
        """The label words' token ids for ``lang`` on the method's device (made once per language and device:
        no host-to-device copy per micro-batch).

        :param lang: one of the task's languages.
        :returns: a long tensor [C], one token id per label, in the task's label order.
        """
        if self.verbalizer is None:
            raise ModelError(f"method '{self.config.method}' has no label words (it was built without a verbalizer)")
        cache = self.__dict__.setdefault("_label_ids", {})
        key = (lang, self.device)
        if key not in cache:
            with torch.inference_mode(False):  # a normal tensor even when first asked for during evaluation
                cache[key] = self.verbalizer.tensor_for(lang, self.device)
        return cache[key]

    def batch_label_ids(self, batch: Sequence[TokenizedExample]) -> torch.Tensor:
        """The label words' token ids of each example's own language (a training batch of several source languages
        mixes them): :meth:`label_ids` of the batch's language when it has one, else one row per example.

        :param batch: tokenised examples (their ``lang``).
        :returns: a long tensor [C] (one language) or [N, C] (several).
        """
        langs = {ex.lang for ex in batch}
        if len(langs) == 1:
            return self.label_ids(next(iter(langs)))
        return torch.stack([self.label_ids(ex.lang) for ex in batch])

    def labels_tensor(self, batch: Sequence[TokenizedExample]) -> torch.Tensor:
        """The gold label indices of ``batch`` on the method's device.

        :param batch: tokenised examples.
        :returns: a long tensor [N].
        """
        return pin(torch.tensor([ex.label for ex in batch], dtype=torch.long), self.device)
