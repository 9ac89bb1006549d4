"""LSTMTextGenerator: an LSTM language model as a scikit-learn estimator.

The class holds the public methods; each is a few lines over the module
that does the job:

- parameters: checked from the table of :mod:`sklstm._params`;
- ``X`` and prompts: told apart and encoded by :mod:`sklstm._inputs`;
- ``fit`` and ``partial_fit``: the stages of :mod:`sklstm._fitting`;
- ``predict_proba``, ``predict``, ``score_samples``, ``score``:
  :mod:`sklstm._scoring`;
- ``generate`` and ``stream``: :mod:`sklstm._generation` over the compiled
  loop of :mod:`sklstm._sampling`;
- ``save``: :mod:`sklstm._state`.

The functions at the end of this module are the estimator's internal
interface for the front ends (:class:`sklstm._resolve.FittedLM`).
"""

from __future__ import annotations

import tensorflow as tf
from sklearn.base import BaseEstimator
from sklearn.utils.validation import check_is_fitted

from sklstm import _distribute, _fitting, _logs, _params, _scoring, _state
from sklstm._device import share_gpus
from sklstm._generation import continue_prompts, parse_controls, stream_text
from sklstm._inputs import encode, encode_prompts
from sklstm._model import Network
from sklstm._sampling import Sampler
from sklstm.sequencer import TextSequencer, decode_ids, token_strings

_logs.install()  # sklstm's own compiled functions retrace per model


class LSTMTextGenerator(BaseEstimator):
    """LSTM language model that learns from text and continues prompts.

    The network is Embedding -> one or more LSTM layers -> optional relu
    Dense -> logits over the vocabulary. Training is many-to-many: a window
    of ``sequence_length`` tokens predicts its next token at every position,
    with sparse cross-entropy on logits, so no one-hot targets and no
    overlapping windows are ever built.

    ``X`` is either raw documents (an iterable of str), tokenised by the
    ``sequencer`` this estimator owns, or integer id sequences from a
    :class:`TextSequencer` step earlier in a :class:`~sklearn.pipeline.Pipeline`
    (a 2-D array padded with ``0``, or a list of 1-D arrays).

    Parameters
    ----------
    sequencer : TextSequencer or None, default=None
        Tokeniser for raw-text input. None means ``TextSequencer()`` (char
        level); its parameters are still reachable as ``sequencer__level``
        and so on, in ``set_params`` and in searches. Cloned at ``fit``.
    embedding_dim : int, default=64
        Size of the token embedding.
    units : int or tuple of int, default=384
        Units of each LSTM layer; a tuple stacks several layers. At char
        level 384 ended lowest in held-out bits per character of the widths
        tried: 256, 384 and 512 in 5 minutes and 256, 320 and 384 in 100 s on
        one corpus, 256 and 384 in 5 minutes on another (the README's
        Performance section).
    dense_units : int or None, default=None
        Units of a relu Dense layer between the LSTMs and the output layer;
        None for no such layer.
    dropout : float or "auto", default="auto"
        Dropout rate on the outputs of each LSTM layer, in [0, 1) (Keras
        Dropout layers). ``"auto"`` sets the rate by the passes over the
        text the fit makes, as ``weight_dropout="auto"`` does and on top of
        it: none up to 15 epochs, then rising linearly to 0.3 at 40 epochs
        and more; the trainer drops the outputs itself, and the network has
        no Dropout layers. ``dropout_`` records the rate of the last epoch.
    recurrent_dropout : float, default=0.0
        Dropout rate on the recurrent state inside each LSTM layer, in
        [0, 1). Anything above 0 rules out the fast cuDNN kernel on GPU (a
        warning says so once); ``dropout`` regularises without that cost.
    weight_dropout : float or "auto", default="auto"
        DropConnect on the recurrent kernel of each LSTM layer, as in
        AWD-LSTM (Merity et al., 2017), in [0, 1): every training batch
        zeroes each weight of the recurrent kernels with this probability
        (one mask for all the batch's time steps) and scales the rest by
        ``1 / (1 - weight_dropout)``. The layers themselves run unchanged on
        the dropped weights, so the fused CPU kernel and cuDNN on a GPU stay
        in use. Training only: scoring and generation use the weights as
        they are. ``"auto"`` sets the rate by the passes over the text the
        fit makes: none up to 10 epochs, then rising linearly to 0.25 at 30
        epochs and more (it helps a model that sees its text many times and
        slows one that sees it a few times); where ``max_time`` limits the
        fit, the passes are those the time allows at the pace of the epochs
        so far, revised after each epoch. ``weight_dropout_`` records the
        rate of the last epoch. ``benchmarks/bench_regularisation.py`` and
        ``benchmarks/bench_quality.py`` measure it.
    embedding_dropout : float, default=0.0
        Drops whole tokens of the embedding matrix, in [0, 1): every
        training batch zeroes the embedding of each vocabulary entry with
        this probability (wherever the token stands in the batch) and
        scales the rest by ``1 / (1 - embedding_dropout)``. Training only.
    tie_weights : bool, default=False
        The output layer shares the embedding matrix (Press and Wolf, 2017):
        logits are the features, projected to ``embedding_dim`` by a learned
        bias-free matrix when the last layer (``dense_units``, else the last
        LSTM's units) is not ``embedding_dim`` wide, times the embedding
        matrix transposed, plus a learned scale and bias per token. A word
        or subword model saves most of its output layer's parameters.
    l2 : float, default=0.0
        L2 regularisation factor on every kernel.
    sequence_length : int, default=100
        Tokens per training window (the backpropagation-through-time length).
        A training text too short for one window trains on the longest
        window it holds instead, with a warning.
    batch_size : int, default=64
        Windows per training batch.
    stateful : bool or "auto", default=False
        Carry the LSTM states across batches (truncated backpropagation
        through time, as in char-rnn): each batch row continues the text
        where that row's previous window ended and starts from its final
        states, so the network learns from contexts longer than one window.
        A row's states are reset to zero at random (one batch in eight) so
        that the network also learns to start from zero states, as every
        document does. False trains every window from zero states, in
        random order. ``"auto"`` carries states when the training documents
        average at least four windows (never for short documents such as
        names or lines, where a carried state would cross document
        boundaries most of the time). On the embedded corpus, at equal
        epochs carried states scored slightly better, at equal time
        slightly worse (see the README's Performance section).
    epochs : int or None, default=10
        Maximum passes over the training text. None trains until
        ``max_time`` runs out (or early stopping), and needs ``max_time``.
    max_time : float or None, default=None
        Seconds of training, after which ``fit`` stops at the end of the
        current batch, validates that last (partial) epoch and keeps the
        best weights as usual. None sets no limit.
    learning_rate : float, default=0.008
        Adam learning rate (the peak of the schedule).
    learning_rate_schedule : {"cosine", "constant"}, default="cosine"
        ``"cosine"`` decays the learning rate from ``learning_rate`` to zero
        over the run: over ``epochs``, or over ``max_time``, whichever ends
        first. ``partial_fit`` always uses the constant rate.
    clipnorm : float or None, default=5.0
        Clip each gradient to this norm; None for no clipping.
    dtype_policy : {"float32", "mixed_float16", "mixed_bfloat16"}, \
            default="float32"
        Keras precision policy. The mixed policies compute in half precision
        and keep float32 weights and logits: ``"mixed_float16"`` (with loss
        scaling) for GPUs with tensor cores, ``"mixed_bfloat16"`` for TPUs
        and recent CPUs and GPUs. Generation always runs in float32.
    training_kernel : {"auto", "fused", "keras"}, default="auto"
        How the LSTM layers are computed in training. ``"fused"`` is
        sklstm's own kernel over the layers' weights: the input projection
        of all time steps in one matrix product, a recurrent loop compiled
        by XLA that does only the state's product and the gate arithmetic,
        and a hand-written backward pass whose weight gradients are single
        matrix products (on a 2-core CPU, 1.6x Keras' own loop for the
        default char model and 1.7x for two layers of 256; less where the
        output layer over a large vocabulary dominates; see the README's
        Performance section). It computes the same
        function as Keras' layer, so the saved model, generation and scoring
        do not change. ``"keras"`` trains through Keras' own LSTM layer
        (cuDNN on a GPU), for comparison or as an escape hatch. ``"auto"``
        chooses ``"fused"`` on a CPU when the network allows it (float32,
        no ``recurrent_dropout``) and ``"keras"`` otherwise; ``"fused"``
        with a network it cannot compute raises a ValueError that says why.
        ``training_kernel_`` records the choice.
    distribution_strategy : tf.distribute.Strategy, \
            {"mirrored", "multi_worker_mirrored"} or None, default=None
        Train data-parallel with tf.distribute. The network, its optimizer
        and the training wrapper are created under ``strategy.scope()``;
        each batch of ``batch_size`` windows (the global batch) is split
        between the replicas and their gradients are averaged, so an update
        is the one a single device would make on the whole batch. None
        trains without tf.distribute. Instances:
        ``tf.distribute.MirroredStrategy()`` for the GPUs of one machine,
        ``tf.distribute.MultiWorkerMirroredStrategy()`` for several machines
        (it reads the cluster from ``TF_CONFIG`` and must be created at
        program start-up, before TensorFlow runs anything: create it first
        thing in the script, and run the same script on every machine). A
        name creates that strategy with default arguments at the first
        ``fit`` that needs it and reuses it in the process; this keeps the
        estimator picklable, but on a cluster ``"multi_worker_mirrored"``
        then fails if TensorFlow ran before in the process (a fitted or
        loaded model, a tensor), so in scripts the instance is the reliable
        form. ``clone`` shares an instance; pickles and :meth:`save` hold
        None in its place, so a reloaded model trains on one device unless
        given a strategy again. Generation and scoring run outside the
        strategy, on one device. A strategy rules out ``stateful=True``
        (``"auto"`` chooses False); across machines it also rules out
        ``max_time`` (workers stopping after different batches would wait
        for each other forever; training is not synchronised on time, so
        set ``epochs``) and needs an int ``random_state`` (every worker must
        hold out the same documents and draw the same batches). See the
        README's "Training on several GPUs or machines".
    validation_fraction : float, default=0.1
        Fraction of the text held out to measure validation loss each epoch:
        ``round(validation_fraction * n_documents)`` whole documents, chosen
        at random, when that is at least one (and leaves one to train on);
        otherwise the last ``validation_fraction`` of every document's tokens
        (one long text gives its end). 0 trains on everything.
    early_stopping : bool, default=True
        Stop when the monitored loss (validation loss, or training loss
        without validation) has not improved for ``n_iter_no_change`` epochs,
        and restore the weights of the best epoch.
    n_iter_no_change : int, default=3
        Patience of early stopping, in epochs.
    warm_start : bool, default=False
        When fitted already, ``fit`` continues training the current network
        on the fitted vocabulary instead of starting anew.
    callbacks : list of keras.callbacks.Callback instances or classes, \
            default=None
        Called during training. Each ``fit`` uses fresh copies (classes are
        instantiated without arguments), so the objects passed here never
        hold a trained model. See :mod:`sklstm.callbacks`, e.g.
        :class:`~sklstm.callbacks.SampleText`.
    verbose : int, default=0
        0 is silent; 1 shows Keras progress bars; 2 one line per epoch.
    random_state : int, RandomState instance or None, default=None
        Seeds weight initialisation, dropout, the validation split and the
        order of training windows. An int makes ``fit`` reproducible on CPU.
        Global random generators are never reseeded.

    Attributes
    ----------
    <fitted attributes: sklstm._state.FITTED>

    See Also
    --------
    TextSequencer : Vocabulary and encoding of raw documents.
    sklstm.generate : Continue a text prompt from a fitted model, pipeline or
        search.

    Examples
    --------
    >>> from sklstm import LSTMTextGenerator
    >>> docs = ["the cat sat on the mat. " * 20, "the dog sat on the log. " * 20]
    >>> gen = LSTMTextGenerator(units=32, embedding_dim=8, sequence_length=20,
    ...                         epochs=2, validation_fraction=0, random_state=0)
    >>> gen.fit(docs).generate("the ", max_new_tokens=10, random_state=0)
    '...'

    Data-parallel on every GPU of the machine (or on its CPU):

    >>> import tensorflow as tf
    >>> strategy = tf.distribute.MirroredStrategy()
    >>> gen = LSTMTextGenerator(units=32, embedding_dim=8, sequence_length=20,
    ...                         batch_size=16, epochs=1, random_state=0,
    ...                         distribution_strategy=strategy).fit(docs)
    >>> gen.model_.distribute_strategy is strategy
    True
    """

    def __init__(
        self,
        *,
        sequencer=None,
        embedding_dim=64,
        units=384,
        dense_units=None,
        dropout="auto",
        recurrent_dropout=0.0,
        weight_dropout="auto",
        embedding_dropout=0.0,
        tie_weights=False,
        l2=0.0,
        sequence_length=100,
        batch_size=64,
        stateful=False,
        epochs=10,
        max_time=None,
        learning_rate=0.008,
        learning_rate_schedule="cosine",
        clipnorm=5.0,
        dtype_policy="float32",
        training_kernel="auto",
        distribution_strategy=None,
        validation_fraction=0.1,
        early_stopping=True,
        n_iter_no_change=3,
        warm_start=False,
        callbacks=None,
        verbose=0,
        random_state=None,
    ):
        self.sequencer = sequencer
        self.embedding_dim = embedding_dim
        self.units = units
        self.dense_units = dense_units
        self.dropout = dropout
        self.recurrent_dropout = recurrent_dropout
        self.weight_dropout = weight_dropout
        self.embedding_dropout = embedding_dropout
        self.tie_weights = tie_weights
        self.l2 = l2
        self.sequence_length = sequence_length
        self.batch_size = batch_size
        self.stateful = stateful
        self.epochs = epochs
        self.max_time = max_time
        self.learning_rate = learning_rate
        self.learning_rate_schedule = learning_rate_schedule
        self.clipnorm = clipnorm
        self.dtype_policy = dtype_policy
        self.training_kernel = training_kernel
        self.distribution_strategy = distribution_strategy
        self.validation_fraction = validation_fraction
        self.early_stopping = early_stopping
        self.n_iter_no_change = n_iter_no_change
        self.warm_start = warm_start
        self.callbacks = callbacks
        self.verbose = verbose
        self.random_state = random_state

    # ------------------------------------------------------------ parameters
    def get_params(self, deep=True):
        """Get parameters, with ``sequencer__*`` even when ``sequencer=None``."""
        params = super().get_params(deep=deep)
        if deep and self.sequencer is None:
            for key, value in TextSequencer().get_params().items():
                params[f"sequencer__{key}"] = value
        return params

    def set_params(self, **params):
        """Set parameters; ``sequencer__*`` on the default sequencer creates it.

        Setting ``sequencer__level`` while ``sequencer`` is None first sets
        ``sequencer`` to a new ``TextSequencer()``, so the default instance
        is never shared between estimators.
        """
        nested = any(key.startswith("sequencer__") for key in params)
        if nested and self.sequencer is None and "sequencer" not in params:
            self.sequencer = TextSequencer()
        return super().set_params(**params)

    def __sklearn_clone__(self):
        """Clone as scikit-learn does, but share a strategy instance.

        ``clone`` deep-copies parameters; a deep copy of a
        ``tf.distribute.Strategy`` is a second strategy over the same devices
        (and, across machines, the same collective ops), so every clone uses
        the instance passed instead.
        """
        strategy = self.distribution_strategy
        if not isinstance(strategy, tf.distribute.Strategy):
            return super().__sklearn_clone__()
        shell = type(self).__new__(type(self))  # self, less the strategy
        shell.__dict__.update(self.__dict__, distribution_strategy=None)
        twin = super(LSTMTextGenerator, shell).__sklearn_clone__()
        twin.distribution_strategy = strategy
        return twin

    def _validate_params(self):
        """Check every parameter (the table of :mod:`sklstm._params`) and
        return the units of each LSTM layer as a tuple of ints."""
        params = {name: getattr(self, name) for name in _params.PARAMETERS}
        _params.validate(params, type(self).__name__)
        return _params.layer_units(self.units)

    # ------------------------------------------------------------------- fit
    def fit(self, X, y=None):
        """Train the language model on documents.

        With ``warm_start=True`` and a fitted model, training continues from
        the current weights and optimizer state for ``epochs`` more epochs,
        on the fitted vocabulary (see :meth:`partial_fit`).

        Parameters
        ----------
        X : iterable of str, or id sequences
            Raw documents (tokenised by ``sequencer``), or integer id
            sequences from a fitted :class:`TextSequencer`.
        y : None
            Ignored.

        Returns
        -------
        self : LSTMTextGenerator
            The fitted estimator.
        """
        warm = self.warm_start and hasattr(self, "model_")
        schedule = self.learning_rate_schedule
        return self._fit(X, self.epochs, warm=warm, schedule=schedule, where="fit")

    def partial_fit(self, X, y=None):
        """Train one more epoch on ``X``, from the current weights.

        The first call on an unfitted estimator learns the vocabulary and
        builds the network; later calls keep both. The vocabulary never
        changes: tokens it does not hold become out-of-vocabulary (or raise,
        with ``TextSequencer(handle_unknown="error")``). This is also how to
        fine-tune a model pre-trained on a large corpus on a small one.

        Parameters
        ----------
        X : iterable of str, or id sequences
            Documents.
        y : None
            Ignored.

        Returns
        -------
        self : LSTMTextGenerator
        """
        # One epoch at the constant rate, whatever learning_rate_schedule says.
        warm = hasattr(self, "model_")
        return self._fit(X, 1, warm=warm, schedule="constant", where="partial_fit")

    def _fit(self, X, epochs, *, warm, schedule, where):
        """Train (the stages of :mod:`sklstm._fitting`) for ``epochs`` more
        epochs under the learning-rate ``schedule``, continuing the fitted
        network when ``warm``; ``where`` is the public method's name."""
        before = self.__dict__.copy()
        try:
            share_gpus()  # before a strategy or a network touches the GPUs
            units = self._validate_params()
            _fitting.fit(
                self,
                X,
                units,
                epochs,
                schedule=schedule,
                where=f"{type(self).__name__}.{where}",
                warm_from=self._engine()[0] if warm else None,
            )
            self._engine()  # build now, so that predicting leaves the state alone
        except Exception:
            # A failed fit leaves the estimator as it was: nothing the user
            # had (a fitted vocabulary, a trained network) is lost.
            self.__dict__.clear()
            self.__dict__.update(before)
            raise
        return self

    # --------------------------------------------------------------- engine
    def _engine(self):
        """The compiled scoring and sampling functions for ``model_``."""
        check_is_fitted(self, "model_")
        cached = self.__dict__.get("_engine_cache")
        if cached is None or cached[0] is not self.model_:
            network = Network(self.model_)
            cached = (self.model_, network, Sampler(network))
            self._engine_cache = cached
        return cached[1], cached[2]

    def save(self, path):
        """Write the fitted model to ``path`` in sklstm's safe format.

        One zip file with the Keras archive of the network and a JSON file
        with the parameters, vocabulary, history and versions. Read it with
        :func:`sklstm.load`, which never unpickles: use this format to share
        models, and joblib/pickle only for your own files.

        Parameters
        ----------
        path : str or os.PathLike
            Destination, conventionally ending in ``.sklstm``; an existing
            file is replaced atomically.

        Returns
        -------
        self : LSTMTextGenerator
        """
        _state.save(self, path)
        return self

    def __sklstm_set_state__(self, fitted):
        """Set the fitted attributes that :func:`sklstm.load` read back.

        Internal interface of the safe file format: ``fitted`` maps the
        names that ``sklstm._state.FITTED`` declares (``model_`` included)
        to their values. The compiled functions are built at once, as
        ``fit`` builds them. Returns self.
        """
        vars(self).update(fitted)
        self._engine()
        return self

    def __getstate__(self):
        state = self.__dict__.copy()
        state.pop("_engine_cache", None)  # compiled functions are rebuilt
        # A strategy instance is a handle on this process's devices and
        # cluster, and cannot be pickled: the copy holds None (names stay).
        if "distribution_strategy" in state:
            state["distribution_strategy"] = _distribute.picklable(
                state["distribution_strategy"]
            )
        return state

    # --------------------------------------------------------- probabilities
    def predict_proba(self, X):
        """Next-token probabilities after each sequence.

        Parameters
        ----------
        X : iterable of str, or id sequences
            Contexts; each is read after an end-of-document id.

        Returns
        -------
        proba : ndarray of shape (n_samples, vocab_size_)
            Column ``j`` is the probability that token id ``j`` comes next.
        """
        sequences = encode(self, X, f"{type(self).__name__}.predict_proba")
        return _scoring.next_token_proba(self._engine()[0], sequences)

    def predict(self, X):
        """Most likely next token after each sequence.

        Returns
        -------
        tokens : ndarray of shape (n_samples,)
            Token strings when fitted on raw text, ids when fitted on ids.
        """
        sequences = encode(self, X, f"{type(self).__name__}.predict")
        ids = _scoring.most_likely_next(self._engine()[0], sequences)
        if self.sequencer_ is None:
            return ids
        return token_strings(self.sequencer_, ids)

    def score_samples(self, X):
        """Log-likelihood (natural log) of each document under the model.

        Counts every token of the document and the end-of-document token that
        follows it.

        Returns
        -------
        loglik : ndarray of shape (n_samples,)
        """
        sequences = encode(self, X, f"{type(self).__name__}.score_samples")
        return _scoring.log_likelihood(self._engine()[0], sequences)[0]

    def score(self, X, y=None):
        """Mean log-likelihood per token (natural log); higher is better.

        Its negation is the cross-entropy in nats per token, and
        ``exp(-score)`` the perplexity. Values compare models that share a
        tokenisation only.

        Returns
        -------
        score : float
        """
        sequences = encode(self, X, f"{type(self).__name__}.score")
        return _scoring.mean_log_likelihood(self._engine()[0], sequences)

    # ------------------------------------------------------------ generate
    def generate(self, prompt="", **controls):
        """Continue a prompt, or a batch of prompts.

        The prompts are read after an end-of-document id in masked passes of
        64 tokens; then one compiled loop samples the new tokens, carrying
        the LSTM states from step to step (no ``model.predict`` per token).
        The loops are compiled by XLA once per batch size and set of controls
        in use, not per prompt or ``max_new_tokens``.

        Parameters
        ----------
        prompt : str, list of str, or id sequence(s), default=""
            Text (for a model fitted on text) or token ids. A list continues
            several prompts of any lengths in one batch. The empty prompt
            starts a new document.
        max_new_tokens : int, default=100
            Most tokens to generate per sequence.
        min_new_tokens : int, default=0
            End-of-document cannot be generated before this many tokens.
        temperature : float or sequence of float, default=1.0
            Divides the logits before sampling; lower is more conservative,
            0 is greedy (always the most likely token). A sequence gives one
            temperature per new token, its last value repeating.
        top_k : int or None, default=None
            Sample only among the ``top_k`` most likely tokens.
        top_p : float in (0, 1] or None, default=None
            Nucleus sampling: sample only among the most likely tokens whose
            probabilities add up to ``top_p``.
        repetition_penalty : float > 0 or None, default=None
            Values above 1 make tokens already in the prompt or the output
            less likely (positive logits divided, negative ones multiplied).
        stop : str, list of str or None, default=None
            Stop a sequence at the first of these strings; the text is cut
            before it.
        stop_at_eod : bool, default=True
            Stop a sequence when it generates the end-of-document token.
        num_return_sequences : int, default=1
            Continuations per prompt; they follow each other in the output.
        random_state : int, RandomState instance or None, default=None
            Seed of the sampling; the same seed and inputs give the same
            text. Global random generators are not used.

        Returns
        -------
        text : str or list of str (ids for a model fitted on ids)
            The continuation only, without the prompt. A single prompt with
            ``num_return_sequences=1`` gives one str, anything else a list.

        Examples
        --------
        >>> from sklstm import LSTMTextGenerator
        >>> docs = ["the cat sat on the mat. " * 20, "the dog sat on the log. " * 20]
        >>> model = LSTMTextGenerator(units=16, embedding_dim=8, epochs=1,
        ...                           sequence_length=20, random_state=0).fit(docs)
        >>> text = model.generate("the ", max_new_tokens=12, random_state=0)
        >>> len(text) <= 12
        True
        >>> batch = model.generate(["the c", "a"], max_new_tokens=5, top_k=3,
        ...                        num_return_sequences=2, random_state=0)
        >>> len(batch)
        4
        """
        ctrl = parse_controls(controls, "generate")
        check_is_fitted(self, "model_")
        single, sequences = encode_prompts(self, prompt)
        if self.sequencer_ is None and ctrl.stop:
            raise ValueError(
                "stop strings need text: this model was fitted on token ids. "
                "Use sklstm.generate(pipeline, prompt, stop=...)."
            )
        decode = None if self.sequencer_ is None else self._decode_ids
        out = continue_sequences(self, sequences, ctrl, decode)
        return out[0] if single and ctrl.num_return_sequences == 1 else out

    def stream(self, prompt="", **controls):
        """Yield the continuation of one text prompt piece by piece.

        Takes the controls of :meth:`generate` except
        ``num_return_sequences``; the concatenated pieces equal what
        :meth:`generate` returns for the same arguments.

        Yields
        ------
        piece : str
            Newly generated text.

        Examples
        --------
        >>> from sklstm import LSTMTextGenerator
        >>> docs = ["the cat sat on the mat. " * 20, "the dog sat on the log. " * 20]
        >>> model = LSTMTextGenerator(units=16, embedding_dim=8, epochs=1,
        ...                           sequence_length=20, random_state=0).fit(docs)
        >>> pieces = list(model.stream("the ", max_new_tokens=40, random_state=0))
        >>> "".join(pieces) == model.generate("the ", max_new_tokens=40,
        ...                                   random_state=0)
        True
        """
        ctrl = parse_controls(controls, "stream")
        check_is_fitted(self, "model_")
        if ctrl.num_return_sequences != 1:
            raise ValueError("stream continues one prompt; use generate for more.")
        if self.sequencer_ is None:
            raise TypeError(
                "stream needs text: this model was fitted on token ids. Use "
                "sklstm.stream(pipeline, prompt)."
            )
        if not isinstance(prompt, str):
            raise TypeError(
                f"stream expects one str prompt; got {type(prompt).__name__}."
            )
        sequence = encode(self, [prompt], "stream", prompts=True)[0]
        return stream_sequence(self, sequence, ctrl, self._decode_ids)

    def _decode_ids(self, sequences):
        """The text of a list of id arrays, through ``sequencer_``."""
        return decode_ids(self.sequencer_, sequences)

    def __sklearn_tags__(self):
        tags = super().__sklearn_tags__()
        tags.input_tags.string = True
        tags.input_tags.categorical = True
        tags.input_tags.positive_only = True
        tags.target_tags.required = False
        tags.non_deterministic = False
        return tags


# The fitted attributes are declared once, with their docstring entries.
LSTMTextGenerator.__doc__ = _state.document(LSTMTextGenerator.__doc__)


# ---------------------------------------------------------------------------
# The internal interface of a fitted LSTMTextGenerator for the front ends:
# sklstm._resolve.FittedLM (behind sklstm.generate, sklstm.stream, the
# command line and the server) continues prompts through these functions
# and reaches the compiled loop through sampler(). Prompts are encoded with
# sklstm._inputs.encode(model, prompts, where, prompts=True), and decoded
# with sklstm.sequencer.decode_ids or the pipeline before the model.


def sampler(model):
    """The compiled generation loop of a fitted model, a
    :class:`sklstm._sampling.Sampler` (built once per ``model_``)."""
    return model._engine()[1]


def continue_sequences(model, sequences, controls, decode):
    """Continuations of id sequences under ``controls`` (from
    ``parse_controls``), decoded by ``decode`` (a list of id arrays to a list
    of str), or ids when ``decode`` is None."""
    return continue_prompts(sampler(model), sequences, controls, decode)


def stream_sequence(model, sequence, controls, decode):
    """Yield the text continuing one id sequence, piece by piece."""
    yield from stream_text(sampler(model), sequence, controls, decode)
