"""The compiled generation loop and its sampling rule.

Generation never calls ``model.predict`` per token. One ``tf.function``
consumes the prompts in a single masked pass, then runs a ``tf.range`` loop
in the graph: each iteration samples one token per row and advances the
LSTM states by one step with fused matrix products.
"""

from __future__ import annotations

import tensorflow as tf

from sklstm._tokens import EOD_ID, OOV_ID, PAD_ID


class Sampler:
    """Continue batches of left-padded prompts with a compiled loop."""

    def __init__(self, network):
        self.net = network
        banned = tf.one_hot([PAD_ID, OOV_ID], network.vocab_size, dtype=tf.float32)
        # Padding and out-of-vocabulary are never generated.
        self._banned = tf.reduce_sum(banned, axis=0) * -1e9  # (vocab,)
        scalar = tf.TensorSpec([], tf.int32)
        self.generate = tf.function(
            self._generate,
            input_signature=[
                tf.TensorSpec([None, None], tf.int32),  # prompts, left-padded
                scalar,  # max_new_tokens
                tf.TensorSpec([], tf.float32),  # temperature (0: greedy)
                scalar,  # top_k (0: off)
                tf.TensorSpec([2], tf.int64),  # seed
                tf.TensorSpec([], tf.bool),  # stop at end-of-document
            ],
        )

    def _cell_weights(self):
        """Per LSTM layer: [kernel; recurrent_kernel] stacked, and the bias."""
        return [
            (
                tf.concat([lstm.cell.kernel, lstm.cell.recurrent_kernel], axis=0),
                lstm.cell.bias,
            )
            for lstm in self.net.lstms
        ]

    def _step(self, tokens, states, cells):
        """One token per row in, next-token logits and new states out."""
        x = tf.gather(self.net.embedding.embeddings, tokens)  # (batch, embed)
        new_states = []
        for k, (kernel, bias) in enumerate(cells):
            h, c = states[2 * k], states[2 * k + 1]  # (batch, units)
            z = tf.matmul(tf.concat([x, h], axis=1), kernel) + bias  # (batch, 4u)
            i, f, g, o = tf.split(z, 4, axis=1)  # Keras gate order
            c = tf.sigmoid(f) * c + tf.sigmoid(i) * tf.tanh(g)
            h = tf.sigmoid(o) * tf.tanh(c)
            new_states += [h, c]
            x = h
        if self.net.dense is not None:
            x = tf.nn.relu(tf.matmul(x, self.net.dense.kernel) + self.net.dense.bias)
        logits = tf.matmul(x, self.net.head.kernel) + self.net.head.bias
        return logits, new_states  # (batch, vocab)

    def _sample(self, logits, temperature, top_k, seed):
        """Pick one token per row from ``logits`` (batch, vocab)."""
        logits = logits + self._banned
        if temperature <= 0.0:
            return tf.argmax(logits, axis=-1, output_type=tf.int32)
        logits = logits / temperature
        if top_k > 0:
            kth = tf.math.top_k(logits, k=top_k).values[:, -1:]  # (batch, 1)
            logits = tf.where(logits < kth, -1e9, logits)
        picked = tf.random.stateless_categorical(logits, 1, seed, dtype=tf.int32)
        return picked[:, 0]  # (batch,)

    def _generate(self, prompts, max_new_tokens, temperature, top_k, seed, stop_at_eod):
        """New tokens per row, (batch, n); rows that ended are padded with 0."""
        logits, states = self.net._last_logits(prompts)  # (batch, vocab)
        cells = self._cell_weights()
        batch = tf.shape(prompts)[0]
        top_k = tf.minimum(top_k, self.net.vocab_size)
        done = tf.zeros([batch], tf.bool)
        out = tf.TensorArray(tf.int32, size=0, dynamic_size=True)
        for i in tf.range(max_new_tokens):
            step_seed = tf.random.experimental.stateless_fold_in(seed, i)
            token = self._sample(logits, temperature, top_k, step_seed)
            token = tf.where(done, PAD_ID, token)
            out = out.write(i, token)
            done = done | (stop_at_eod & tf.equal(token, EOD_ID))
            if tf.reduce_all(done):
                break
            logits, states = self._step(token, states, cells)
        return tf.transpose(out.stack())  # (batch, n)
