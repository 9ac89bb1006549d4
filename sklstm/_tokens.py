"""Reserved token ids shared by the sequencer and the generator."""

PAD_ID = 0
"""Padding: never a real token; ignored by training, scoring and decoding."""

OOV_ID = 1
"""Out-of-vocabulary: any token the vocabulary does not hold."""

EOD_ID = 2
"""End-of-document: separates documents in the training stream."""

N_RESERVED = 3

PAD_TOKEN = "<pad>"
OOV_TOKEN = "<unk>"
EOD_TOKEN = "<eod>"

RESERVED_TOKENS = (PAD_TOKEN, OOV_TOKEN, EOD_TOKEN)
