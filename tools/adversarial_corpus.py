#!/usr/bin/env python3
"""Writes node/tests/fixtures/scoring/adversarial.txt: texts an attacker sends to be paid for
nothing (issue 20), for the scoring corpus test (node/src/domain/corpus_tests.rs).

Run from the repository root: `python3 tools/adversarial_corpus.py`. The output is committed; the
script is kept so the texts can be made again, or more of them. Deterministic (one seed). Random
dictionary words come from the vendored hunspell dictionaries (node/assets/dict/), so the padding is
made of real Swedish and English words, the hardest kind for a dictionary check.

Each line is `<kind>\t<text>`; `kind` says which attack it is, and `edit:<group>` lines are one
text with small edits, sent to several businesses (the first of each group is the original, sent
first, and may earn: only the copies after it must not).
"""

import random
import re

SEED = 20
OUT = "node/tests/fixtures/scoring/adversarial.txt"

# The public examples: node/RUBRIC.md shows them to everyone.
SV_EXAMPLE = (
    "Jag handlade på ICA Maxi i Lund i tisdags runt 17:30. Personalen i kassan var trevlig och snabb, "
    "och de nybakade kanelbullarna var riktigt goda. Tyvärr var kön vid självscanningen lång och "
    "frukthyllan var smutsig med gamla bananer. Kaffet för 25 kr var dessutom kallt. Ni borde öppna "
    "en extra kassa när det är rusning efter jobbet, och nästa gång hade det varit bra med en skylt "
    "som visar vilka kassor som är öppna. Förslag: gör rent fruktdisken oftare."
)
EN_EXAMPLE = (
    "The cashier Lisa was friendly, but the queue was long and the coffee was cold. You should open a "
    "second till at lunch, 12-13. The cinnamon bun (32 kr) was tasty."
)
SV_SHORT_EXAMPLE = (
    "Kassören Lisa var trevlig men kön var lång och kaffet kallt. Ni borde öppna en kassa till vid "
    "lunch, kl 12-13. Kanelbullen för 32 kr var god."
)

# An attacker's own text, written once and reused with small edits at many businesses.
OWN_SV = (
    "Var inne på förmiddagen och köpte bröd och en kaffe. Personalen var trevlig och brödet färskt, "
    "men kaffet var ljummet och det var smutsigt vid fönsterbordet. Ni borde torka borden oftare och "
    "kolla kaffebryggaren."
)
OWN_EN = (
    "Came in this morning for a sandwich and a latte. The staff were friendly and the sandwich was fresh, "
    "but the latte was lukewarm and the table by the door was dirty. You should wipe the tables more "
    "often and check the coffee machine."
)


def stems(path):
    """Words of a hunspell .dic: the stem before the flags, letters only, 3-12 letters."""
    out = []
    with open(path, encoding="utf-8") as f:
        next(f)
        for line in f:
            w = line.split("/")[0].strip()
            if re.fullmatch(r"[a-zåäöéü]{3,12}", w):
                out.append(w)
    return out


def words_of(rng, pool, chars):
    """Random words from `pool` until about `chars` characters."""
    out, n = [], 0
    while n < chars:
        w = rng.choice(pool)
        out.append(w)
        n += len(w) + 1
    return " ".join(out)


def gibberish(rng, chars, alphabet="abcdefghijklmnopqrstuvwxyzåäö"):
    out, n = [], 0
    while n < chars:
        w = "".join(rng.choice(alphabet) for _ in range(rng.randint(3, 10)))
        out.append(w)
        n += len(w) + 1
    return " ".join(out)


def syllables(rng, chars):
    """Pronounceable nonsense: consonant-vowel syllables."""
    cons, vow = "bdfghklmnprstv", "aeiouyåäö"
    out, n = [], 0
    while n < chars:
        w = "".join(rng.choice(cons) + rng.choice(vow) for _ in range(rng.randint(2, 4)))
        out.append(w)
        n += len(w) + 1
    return " ".join(out)


def shuffled(rng, text):
    words = text.split()
    rng.shuffle(words)
    return " ".join(words)


def main():
    rng = random.Random(SEED)
    sv = stems("node/assets/dict/sv_SE.dic")
    en = stems("node/assets/dict/en_US.dic")
    lines = []

    def add(kind, text):
        assert "\t" not in text and "\n" not in text
        lines.append(f"{kind}\t{text}")

    # 1. The public example padded with ~800 characters of random words (the attack).
    for i in range(4):
        add("padded-example", SV_EXAMPLE + " " + words_of(rng, sv, 800))
    for i in range(3):
        add("padded-example", EN_EXAMPLE + " " + words_of(rng, en, 800))
    add("padded-example", words_of(rng, sv, 400) + " " + SV_EXAMPLE + " " + words_of(rng, sv, 400))
    add("padded-example", SV_SHORT_EXAMPLE + " " + words_of(rng, sv + en, 800))
    # 2. The public example plus a little noise (a sentence, a name, a few words).
    add("example-plus-noise", SV_EXAMPLE + " Tack för i dag!")
    add("example-plus-noise", "Hej! " + SV_EXAMPLE.replace("ICA Maxi i Lund", "Coop i Malmö").replace("17:30", "18:15"))
    add("example-plus-noise", EN_EXAMPLE + " " + words_of(rng, en, 60))
    add("example-plus-noise", SV_SHORT_EXAMPLE.replace("Lisa", "Maja") + " Bra ställe.")
    # 3. Gibberish: random letters, pronounceable nonsense, lorem ipsum.
    for i in range(3):
        add("gibberish", gibberish(rng, 600))
    for i in range(2):
        add("gibberish", syllables(rng, 600))
    add("gibberish", "Lorem ipsum dolor sit amet, consectetur adipiscing elit, sed do eiusmod tempor incididunt ut labore et dolore magna aliqua. Ut enim ad minim veniam, quis nostrud exercitation ullamco laboris nisi ut aliquip ex ea commodo consequat. Duis aute irure dolor in reprehenderit in voluptate velit esse cillum dolore eu fugiat nulla pariatur.")
    # 4. Random dictionary words alone (word salad), and salad of the rubric's own lexicon.
    add("word-salad", words_of(rng, sv, 700))
    add("word-salad", words_of(rng, en, 700))
    lexicon = ("kassören personalen kaffet kanelbullen kön toaletten hyllan frukt pris kvitto trevlig snabb god "
               "fräsch dålig kall smutsig långsam borde förslag nästa gång skulle önskar tips 17:30 25 kr Lisa ICA").split()
    add("word-salad", " ".join(rng.choice(lexicon) for _ in range(90)))
    lexicon_en = ("cashier staff coffee bun queue toilet shelf fruit price receipt friendly fast good fresh bad cold "
                  "dirty slow should suggest next time please consider improve 17:30 25 kr Lisa Coop").split()
    add("word-salad", " ".join(rng.choice(lexicon_en) for _ in range(90)))
    # 5. Shuffled words: the public examples and honest-looking texts, in random order.
    add("shuffled", shuffled(rng, SV_EXAMPLE))
    add("shuffled", shuffled(rng, SV_EXAMPLE))
    add("shuffled", shuffled(rng, EN_EXAMPLE + " " + EN_EXAMPLE.replace("Lisa", "Anna")))
    add("shuffled", shuffled(rng, OWN_SV + " " + OWN_EN))
    add("shuffled", SV_EXAMPLE.split(". ")[0] + ". " + shuffled(rng, SV_EXAMPLE + " " + SV_SHORT_EXAMPLE))
    # 6. Repeated tokens and repeated text.
    add("repeated", "bra " * 60)
    add("repeated", SV_SHORT_EXAMPLE.replace("Lisa", "Nils") + " " + "mycket bra " * 50)
    add("repeated", " ".join([OWN_SV] * 4))
    add("repeated", " ".join(["Kaffet var gott men kön var lång, ni borde öppna en kassa till."] * 8))
    add("repeated", "good good good great great great nice nice nice should should should " * 8)
    # 7. Keyboard runs.
    add("keyboard", "qwerty asdfgh zxcvbn qwertyuiop asdfghjkl " * 8)
    add("keyboard", OWN_EN.replace("latte", "latte qwerty").replace("fresh", "fresh asdfgh") + " " + "asdf jklö qwer tyui zxcv bnm " * 12)
    add("keyboard", "asdasdasd qweqweqwe 123123123 asdfasdf jkljkljkl " * 10)
    add("keyboard", "1234567890 qwertyuiopå asdfghjklöä zxcvbnm " * 10)
    # 8. One text with small edits across businesses (the first of a group is the original).
    edits_sv = [
        OWN_SV,
        OWN_SV.replace("förmiddagen", "eftermiddagen"),
        OWN_SV.replace("ljummet", "kallt").replace("trevlig", "vänlig"),
        OWN_SV + " Annars bra!",
        "Hej. " + OWN_SV.replace("bröd", "bullar").replace("brödet", "bullarna"),
        OWN_SV.replace("Ni borde", "Ni skulle kunna").replace("oftare", "lite oftare"),
        OWN_SV.replace(",", "").replace("fönsterbordet", "bordet vid fönstret"),
    ]
    for t in edits_sv:
        add("edit:sv", t)
    edits_en = [
        OWN_EN,
        OWN_EN.replace("this morning", "yesterday"),
        OWN_EN.replace("lukewarm", "cold").replace("friendly", "kind"),
        OWN_EN + " Thanks!",
        OWN_EN.replace("sandwich", "bagel"),
        OWN_EN.replace("You should", "Please").replace("more often", "a bit more often"),
    ]
    for t in edits_en:
        add("edit:en", t)

    with open(OUT, "w", encoding="utf-8") as f:
        f.write("# Written by tools/adversarial_corpus.py (seed %d); do not edit by hand.\n" % SEED)
        for line in lines:
            f.write(line + "\n")
    print(f"{len(lines)} texts -> {OUT}")


if __name__ == "__main__":
    main()
