"""The words synthetic screens are written in: filler text, and the parts planted words are made of."""

from __future__ import annotations

import random

_FILLER_TEXT = (
    "the of and to in is for on with as by at from this that be are was it or an not have can will "
    "report meeting notes build release deploy server client request response timeout config value "
    "table index user account session update version module function method class return total amount "
    "order customer project issue review merge branch commit test passed failed warning info debug "
    "queue worker thread memory disk network cache latency retry backup schedule monday friday "
    "week month quarter budget plan draft final summary agenda minutes action item owner status open "
    "closed pending approved rejected shipped invoice payment contract team design product market sales "
    "office remote travel lunch coffee call video share screen link file folder image document page"
)
FILLER = _FILLER_TEXT.split()
_ADJECTIVES_TEXT = (
    "amber silver copper velvet hollow frozen scarlet quiet rapid golden crimson marble misty northern "
    "bitter gentle hidden lunar wooden distant brittle cobalt dusty emerald"
)
ADJECTIVES = _ADJECTIVES_TEXT.split()
_NOUNS_TEXT = (
    "lantern harbor falcon orchard glacier compass meadow beacon canyon quarry tundra lagoon ferry "
    "citadel pylon grotto sparrow walrus otter bramble thistle cinder"
)
NOUNS = _NOUNS_TEXT.split()
_VERBS_TEXT = "delayed stalled approved rerouted cancelled flagged archived escalated rebooted migrated"
VERBS = _VERBS_TEXT.split()
_SYLLABLES_TEXT = "ka lo ven dri mar tus bel quo zan fir gol nex pra sto wil yar cor dun"
SYLLABLES = _SYLLABLES_TEXT.split()
PEOPLE = ["Maria Lopez", "Tom Becker", "Aiko Tanaka", "Sam Okafor", "Priya Nair"]


def filler(rng: random.Random, n: int) -> str:
    """n filler words, space-separated."""
    return " ".join(rng.choice(FILLER) for _ in range(n))
