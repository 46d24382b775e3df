"""Learning from the photographer: corrections become labels, labels a personal head.

:mod:`~scened.learning.store` keeps labels and each photo's compact features in the
state database, :mod:`~scened.learning.corrections` reads a user's corrections out
of a photo's keywords, :mod:`~scened.learning.head` fits and applies a personal
head, and :mod:`~scened.learning.personal` wraps the bundled model with it.
"""
