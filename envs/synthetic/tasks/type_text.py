"""Click a named text field and type the given text (multi-step).

A form of 2-5 labelled fields (role field) and a few buttons. Clicking a field focuses it (the
episode goes on, also when it is the wrong field); typing the exact text into the focused named
field succeeds. Typing other text there, typing into another focused field, or pressing a form
button fails; typing with nothing focused changes nothing. The text appears verbatim in the
instruction, so a policy can copy it as a span of the instruction's tokens.
"""

from __future__ import annotations

from minvla_gym.actions import CLICK, DOUBLE_CLICK, RIGHT_CLICK, TYPE
from minvla_gym.envs.synthetic.scene import Element
from minvla_gym.envs.synthetic.tasks.base import Outcome, Task
from minvla_gym.envs.synthetic.tasks.slider import dialog_buttons
from minvla_gym.envs.synthetic.words import COLOURS, LABELS
from minvla_gym.envs.synthetic.world import Phrases

PHRASES = Phrases(
    v0=(
        "click the {field} field and type {text}",
        "type '{text}' into the {field} field",
        "enter {text} in the {field} box",
        "fill in the {field} field with {text}",
        "write {text} in the {field} field",
    ),
    train=(
        "click the {field} field and type {text}", "type {text} into the {field} field", "enter {text} in the {field} box",
        "fill in the {field} field with {text}", "write {text} in the {field} field", "type {text} in {field}",
        "put {text} in the {field} field", "set {field} to {text}", "enter {text} as the {field}",
        "click {field} and type {text}",
    ),
    test=("input {text} into the {field} field", "fill {field} with {text}", "key in {text} for {field}"),
)  # fmt: skip
ANIMALS = ("tiger", "zebra", "panda", "koala", "eagle", "falcon", "otter")
HANDLES = LABELS[LABELS.index("apple") :]  # fruit, animal and nature words: plausible user names
DOMAINS = ("mail.com", "example.org", "inbox.net", "post.com")
FIELDS = ("Name", "Email", "Age", "City", "Username", "Phone", "Title", "Search", "Amount", "Company", "Comment")
BUTTONS = ("Submit", "Cancel", "Save", "Send", "Reset", "Clear")
TITLES = ("Sign up", "Profile", "Contact", "Order", "Account", "Register", "Details")
# What the open world's fields ask for: their names are any word, so the kind of text is drawn.
TEXT_KINDS = ("Name", "Email", "Username", "Age", "Amount", "Phone", "Title", "City")


class TypeTask(Task):
    family = "Type"
    max_steps = 8

    def build(self) -> None:
        rng, theme = self.rng, self.theme
        _, (x0, y0, x1, y1) = self.window(self.pick("name", TITLES))
        size = theme.font_size
        text_h = self.text_size("x", size)[1]
        field_h = text_h + int(rng.integers(4, 9))
        # Labels above the fields, or to their left where the window is wide enough.
        above = bool(rng.random() < 0.4) or x1 - x0 < 4 * self.text_size("Username", size)[0]
        row = field_h + (text_h if above else 0) + int(rng.integers(4, 12))
        buttons = self.pick("label", BUTTONS, int(rng.integers(1, 3)))
        button_h = size + 8
        rows_room = y1 - y0 - button_h - 8
        if rows_room < 2 * row:  # small screens: the fields come first
            buttons, rows_room = [], y1 - y0 - 4
        count = max(1, min(int(rng.integers(2, 6)), rows_room // row))
        names = self.pick("name", FIELDS, count)
        label_w = 0 if above else max(self.text_size(name, size)[0] for name in names) + 6
        left = x0 + int(rng.integers(2, 16))
        fx0 = left + label_w
        fx1 = x1 - int(rng.integers(2, max(3, (x1 - fx0) // 4)))
        top = y0 + int(rng.integers(2, max(0, rows_room - count * row) + 3))
        field_fill = theme.control if theme.dark else (255, 255, 255)

        self.fields = []
        prefilled = rng.random(count) < 0.3
        for i, name in enumerate(names):
            y = top + i * row
            if above:
                self.scene.add(Element("label", (left, y, x1, y + text_h), name, ink=theme.text, font_size=size))
                y += text_h
            else:
                box = (left, y, fx0, y + field_h)
                self.scene.add(Element("label", box, name, ink=theme.text, font_size=size))
            field = Element("field", (fx0, y, fx1, y + field_h), name, field_fill, theme.text, size, data={})
            self.fields.append(self.scene.add(field))
        self.buttons = dialog_buttons(self, buttons, x1, y1, button_h)

        self.field = self.choice(self.fields)
        self.field.target = True
        self.text = self._text(self.field.label)
        for field, filled in zip(self.fields, prefilled, strict=True):
            if filled and field is not self.field:  # distractor fields are sometimes filled in already
                field.data["text"] = self._text(field.label)
        self.focused = self.choice(self.fields) if rng.random() < 0.4 else None
        if self.focused is not None:
            self.focused.data["focused"] = True
        name = self.field.label if rng.random() < 0.5 else self.field.label.lower()
        self.instruction = self.say(PHRASES, field=name, text=self.text)

    def _text(self, field: str) -> str:
        """Lowercase words, numbers or an email address that fit the field.

        Every space-separated piece comes from a small pool, because render.py caches text masks by
        word: a fresh string costs ~0.6 ms to rasterise, a cached one nothing.
        """
        rng = self.rng
        if self.world.open:
            field = self.choice(TEXT_KINDS)
        if field == "Name":
            return f"{self.choice(tuple(COLOURS))} {self.pick('word', ANIMALS)}"
        if field == "Email":
            return f"{self.pick('word', HANDLES)}@{self.choice(DOMAINS)}"
        if field == "Username":
            return f"{self.pick('word', HANDLES)}{int(rng.integers(1, 10))}"
        if field == "Age":
            return str(int(rng.integers(18, 91)))
        if field == "Amount":
            return str(int(rng.integers(1, 100)))
        if field == "Phone":  # 555-0100..0199: the numbers set aside for fiction
            return f"555 01{int(rng.integers(0, 100)):02d}"
        if field in ("Title", "Search", "Comment"):
            return " ".join(self.pick("word", LABELS, int(rng.integers(1, 4))))
        return self.pick("word", LABELS)

    def _focus(self, field: Element) -> None:
        if self.focused is not None:
            self.focused.data["focused"] = False
        field.data["focused"] = True
        self.focused = field
        self.scene.changed()

    def check(self, action) -> Outcome:
        kind = action["type"]
        if kind in (CLICK, DOUBLE_CLICK, RIGHT_CLICK):
            hit = self.scene.hit(action["point"])
            if hit in self.buttons:
                return Outcome.FAILURE
            if hit in self.fields and kind != RIGHT_CLICK and hit is not self.focused:
                self._focus(hit)
            return Outcome.CONTINUE
        if kind != TYPE or self.focused is None or not action["text"]:
            return Outcome.CONTINUE
        self.focused.data["text"] = self.focused.data.get("text", "") + action["text"]
        self.scene.changed()
        return Outcome.SUCCESS if self.focused is self.field and action["text"] == self.text else Outcome.FAILURE

    def expert(self):
        if self.focused is self.field:
            return self.act("type", text=self.text)
        return self.act("click", self.field)
