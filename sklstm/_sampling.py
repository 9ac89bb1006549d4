"""The compiled generation loop and its sampling rules.

Generation never calls ``model.predict`` per token. ``Sampler.prefill``
consumes left-padded prompts in one masked pass; ``Sampler.decode`` then runs
a ``tf.range`` loop inside one ``tf.function``: each iteration adjusts the
logits (repetition penalty, temperature, top-k, top-p), samples one token
per row and advances the LSTM states by one step with fused matrix products.

``decode`` takes and returns everything the loop carries (logits, states,
tokens seen, rows done), so a long generation can run as several calls, for
streaming or for checking stop strings, and give the same tokens as one
call: the random key of step ``i`` is ``fold_in(seed, i)`` whatever the call.

Each combination of the controls in use (top-k, top-p, repetition penalty,
end-of-document ban) is traced once; controls left off cost nothing per step.
"""

from __future__ import annotations

from dataclasses import dataclass

import tensorflow as tf

from sklstm._tokens import EOD_ID, OOV_ID, PAD_ID

_NEG = -1e9  # logit given to tokens that must not be sampled


@dataclass
class Carry:
    """What the generation loop carries from one call to the next."""

    logits: tf.Tensor  # (batch, vocab) next-token logits
    states: list  # [h0, c0, h1, c1, ...], each (batch, units)
    seen: tf.Tensor  # (batch, vocab) bool: token in prompt or generated
    done: tf.Tensor  # (batch,) bool: row has finished


class Sampler:
    """Continue batches of left-padded prompts with compiled loops."""

    def __init__(self, network):
        self.net = network
        vocab = network.vocab_size
        # Padding and out-of-vocabulary are never generated.
        self._banned = tf.tensor_scatter_nd_update(
            tf.zeros([vocab]), [[PAD_ID], [OOV_ID]], [_NEG, _NEG]
        )
        self._eod_ban = tf.one_hot(EOD_ID, vocab) * _NEG  # (vocab,)
        self.prefill = tf.function(
            self._prefill,
            input_signature=[tf.TensorSpec([None, None], tf.int32)],
        )
        self._decoders = {}

    # -- model step ----------------------------------------------------------
    def _weights(self):
        """The step's weights, rearranged once per call of the loop.

        The first layer's input projection is folded into a table, one row per
        token (``embedding @ kernel + bias``), so a step starts with a gather;
        deeper layers stack ``[kernel; recurrent_kernel]`` for one matmul. The
        output bias carries the ban on padding and out-of-vocabulary ids.
        """
        first, *rest = self.net.lstms
        table = (
            tf.matmul(self.net.embedding.embeddings, first.cell.kernel)
            + first.cell.bias
        )  # (vocab, 4 * units)
        layers = [(table, first.cell.recurrent_kernel)] + [
            (
                tf.concat([lstm.cell.kernel, lstm.cell.recurrent_kernel], axis=0),
                lstm.cell.bias,
            )
            for lstm in rest
        ]
        return layers, self.net.head.bias + self._banned

    def _step(self, tokens, states, weights):
        """One token per row in, next-token logits and new states out."""
        layers, head_bias = weights
        x = None
        new_states = []
        for k, (a, b) in enumerate(layers):
            h, c = states[2 * k], states[2 * k + 1]  # (batch, units)
            if k == 0:  # a: input table, b: recurrent kernel
                z = tf.gather(a, tokens) + tf.matmul(h, b)  # (batch, 4 * units)
            else:  # a: [kernel; recurrent_kernel], b: bias
                z = tf.matmul(tf.concat([x, h], axis=1), a) + b
            i, f, g, o = tf.split(z, 4, axis=1)  # Keras gate order
            c = tf.sigmoid(f) * c + tf.sigmoid(i) * tf.tanh(g)
            h = tf.sigmoid(o) * tf.tanh(c)
            new_states += [h, c]
            x = h
        if self.net.dense is not None:
            x = tf.nn.relu(tf.matmul(x, self.net.dense.kernel) + self.net.dense.bias)
        logits = tf.matmul(x, self.net.head.kernel) + head_bias
        return logits, new_states  # (batch, vocab)

    def _prefill(self, prompts):
        """Read the prompts; return the carry for the first generated token."""
        logits, states = self.net._last_logits(prompts)  # (batch, vocab)
        logits = logits + self._banned
        seen = tf.reduce_any(
            tf.one_hot(prompts, self.net.vocab_size, on_value=True, off_value=False),
            axis=1,
        )  # (batch, vocab)
        done = tf.zeros([tf.shape(prompts)[0]], tf.bool)
        return logits, states, seen, done

    # -- sampling rule -------------------------------------------------------
    def _adjust(self, logits, seen, temperature, top_k, top_p, penalty, flags):
        """Apply penalty, temperature, top-k and top-p to ``logits``."""
        use_top_k, use_top_p, use_penalty = flags
        if use_penalty:
            # CTRL-style: make tokens already seen less likely.
            penalised = tf.where(logits > 0, logits / penalty, logits * penalty)
            logits = tf.where(seen, penalised, logits)
        logits = logits / tf.maximum(temperature, 1e-6)
        if use_top_k:
            kth = tf.math.top_k(logits, k=top_k).values[:, -1:]  # (batch, 1)
            logits = tf.where(logits < kth, _NEG, logits)
        if use_top_p:
            ordered = tf.sort(logits, axis=-1, direction="DESCENDING")
            probs = tf.nn.softmax(ordered, axis=-1)
            before = tf.cumsum(probs, axis=-1, exclusive=True)  # mass ranked above
            # Keep the smallest set whose mass reaches top_p (the top token always).
            kept = tf.where(before < top_p, ordered, tf.reduce_max(ordered))
            floor = tf.reduce_min(kept, axis=-1, keepdims=True)  # (batch, 1)
            logits = tf.where(logits < floor, _NEG, logits)
        return logits

    def _decode(
        self,
        logits,
        states,
        seen,
        done,
        temperatures,
        top_k,
        top_p,
        penalty,
        min_new_tokens,
        step0,
        seed,
        stop_at_eod,
        flags,
    ):
        """Generate ``len(temperatures)`` tokens per row (fewer if all end).

        Returns the tokens (batch, n), padded with 0 after a row ends, and the
        new carry.
        """
        use_penalty, use_eod_ban = flags[2], flags[3]
        weights = self._weights()
        top_k = tf.minimum(top_k, self.net.vocab_size)
        out = tf.TensorArray(tf.int32, size=0, dynamic_size=True)
        for i in tf.range(tf.shape(temperatures)[0]):
            step = step0 + i
            temperature = temperatures[i]
            adjusted = self._adjust(
                logits, seen, temperature, top_k, top_p, penalty, flags[:3]
            )
            if use_eod_ban and step < min_new_tokens:
                adjusted = adjusted + self._eod_ban
            token = tf.argmax(adjusted, axis=-1, output_type=tf.int32)  # greedy
            if temperature > 0:
                key = tf.random.experimental.stateless_fold_in(seed, step)
                token = tf.random.stateless_categorical(
                    adjusted, 1, key, dtype=tf.int32
                )[:, 0]  # (batch,)
            token = tf.where(done, PAD_ID, token)
            out = out.write(i, token)
            if use_penalty:
                seen = seen | tf.cast(
                    tf.one_hot(token, self.net.vocab_size, dtype=tf.int8), tf.bool
                )
            done = done | (stop_at_eod & tf.equal(token, EOD_ID))
            if tf.reduce_all(done):
                break
            logits, states = self._step(token, states, weights)
        tokens = tf.transpose(out.stack())  # (batch, n)
        return tokens, logits, states, seen, done

    def decoder(self, flags):
        """The compiled decode loop for one combination of controls."""
        if flags not in self._decoders:
            vocab = self.net.vocab_size
            state_specs = [
                tf.TensorSpec([None, u], tf.float32)
                for u in self.net.units
                for _ in (0, 1)
            ]
            scalar_i = tf.TensorSpec([], tf.int32)
            scalar_f = tf.TensorSpec([], tf.float32)

            def decode(logits, states, seen, done, temperatures, top_k, top_p,
                       penalty, min_new_tokens, step0, seed, stop_at_eod):  # fmt: skip
                return self._decode(
                    logits, states, seen, done, temperatures, top_k, top_p,
                    penalty, min_new_tokens, step0, seed, stop_at_eod, flags,
                )  # fmt: skip

            self._decoders[flags] = tf.function(
                decode,
                input_signature=[
                    tf.TensorSpec([None, vocab], tf.float32),
                    state_specs,
                    tf.TensorSpec([None, vocab], tf.bool),
                    tf.TensorSpec([None], tf.bool),
                    tf.TensorSpec([None], tf.float32),  # temperature per step
                    scalar_i,  # top_k
                    scalar_f,  # top_p
                    scalar_f,  # repetition penalty
                    scalar_i,  # min_new_tokens
                    scalar_i,  # index of the first step
                    tf.TensorSpec([2], tf.int64),  # seed
                    tf.TensorSpec([], tf.bool),  # stop at end-of-document
                ],
            )
        return self._decoders[flags]
