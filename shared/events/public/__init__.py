"""The public information standard between deployments: the events of the public topics.

Each module is one topic, ``<prefix>.public.<module>``: what a deployment tells its partners
and the national hub. Only what the public API shows may appear here (the same allow-list), and
a version adds fields only (see :mod:`shared.events.base`), so a partner one release behind
still reads it.
"""

from shared.events.public import catalog as catalog
from shared.events.public import contracts as contracts
