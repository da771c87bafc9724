"""Distill: the DistilBERT recipe that builds the pocket pair (student init from teacher layers, KD training,
evaluation) and its model cards. May import core and analysis; never harness or loadtest."""
