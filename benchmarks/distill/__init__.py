"""Distill: the DistilBERT recipe behind the pocket pair, its model cards, and live distillation jobs for the class.
May import core and analysis; never harness or loadtest."""
