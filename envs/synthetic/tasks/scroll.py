"""Scroll a list until a named item shows, then click it (multi-step).

The list (role list) holds 10-40 items, sorted as file and contact lists are, of which 4-8 fit, plus
sometimes a partly visible one at the bottom edge. A scroll inside the list moves it by one item per
notch (positive = down), clamped at the ends. Clicking the named item succeeds; any press on
another item or on a dialog button fails; scrolls outside the list and clicks on empty space
change nothing. The expert scrolls the item to the list's middle row (or as near as the ends allow; at
most 10 notches an action), then clicks it.
"""

from __future__ import annotations

import dataclasses

import numpy as np

from minvla_gym.actions import CLICK, MAX_SCROLL, MOUSE_PRESSES, SCROLL
from minvla_gym.envs.synthetic.scene import DRAW, Element, draw_box
from minvla_gym.envs.synthetic.tasks.base import Outcome, Task
from minvla_gym.envs.synthetic.words import LABELS
from minvla_gym.envs.synthetic.world import Phrases

PHRASES = Phrases(
    v0=(
        "find {item} in the list and select it",
        "click {item} in the list (scroll if needed)",
        "select {item} from the list",
        "scroll the list to {item} and click it",
        "pick {item} in the list",
    ),
    train=(
        "find {item} in the list and select it", "click {item} in the list (scroll if needed)",
        "select {item} from the list", "scroll the list to {item} and click it", "pick {item} in the list",
        "scroll to {item} and click it", "click {item} in the list", "choose {item} from the list",
        "select the list item {item}", "find {item} in the list and click it",
    ),
    test=("locate {item} in the list and pick it", "look for {item} in the list and select it",
          "in the list, choose {item}"),
)  # fmt: skip
# Said only when the item is below (DOWN) or above (UP) the shown rows.
DOWN = Phrases(
    v0=("scroll down to {item} and click it", "scroll down the list and click {item}"),
    train=(
        "scroll down to {item} and click it",
        "scroll down the list and click {item}",
        "scroll down and select {item}",
    ),
    test=("go down the list to {item} and click it",),
)
UP = Phrases(
    v0=("scroll up to {item} and click it", "scroll up the list and click {item}"),
    train=("scroll up to {item} and click it", "scroll up the list and click {item}", "scroll up and select {item}"),
    test=("go up the list to {item} and click it",),
)
BUTTONS = ("OK", "Cancel", "Open", "Select", "Close", "Add", "Remove")


def draw_list_item(frame, e: Element, theme) -> None:
    """List items; the one cut by the list's bottom edge is drawn whole, onto the rows above that edge."""
    clip = e.data.get("clip")
    if clip is None:
        draw_box(frame, e, theme)
    else:  # frame[:clip] is a C-contiguous view, so render.fill writes through it
        draw_box(frame[:clip], dataclasses.replace(e, box=e.data["full"]), theme)


DRAW["list_item"] = draw_list_item


class ScrollTask(Task):
    family = "Scroll"
    max_steps = 8

    def build(self) -> None:
        rng, s, theme = self.rng, self.size, self.theme
        _, (x0, y0, x1, y1) = self.window(self.pick("name", LABELS).capitalize())
        size = theme.font_size
        count, visible = (int(v) for v in rng.integers((10, 4), (41, 9)))
        words = sorted(self.pick("label", LABELS, count), key=str.lower)
        capitalise = rng.random() < 0.5  # the open world's labels come in the episode's case instead
        self.items = [w.capitalize() for w in words] if capitalise and not self.world.open else words
        item_h = size + int(rng.integers(5, 11))
        partial = 0 if rng.random() < 0.4 else int(rng.integers(item_h // 3, 2 * item_h // 3 + 1))
        bar_w = max(6, int(rng.integers(7, 13) * s / 224))

        # Optional dialog buttons in a column on the right, then the list in the room left of them.
        buttons = self.pick("label", BUTTONS, int(rng.integers(0, 4)))
        button_w = max((self.text_size(b, size)[0] for b in buttons), default=0) + 16
        button_h = size + 8
        text_w = max(self.text_size(item, size)[0] for item in self.items)
        room = x1 - x0 - (button_w + 8 if buttons else 0)
        if room < text_w + 10 + bar_w:  # small screens: the list gets the whole width
            buttons, room = [], x1 - x0
        width = min(room, text_w + 10 + bar_w + int(rng.integers(0, 60)))
        if (y1 - y0 - 2 - partial) // item_h < 3:  # small screens: no partial row, as many whole rows as fit
            partial = 0
        visible = max(1, min(visible, (y1 - y0 - 2 - partial) // item_h))
        height = visible * item_h + partial + 2
        lx0 = x0 + int(rng.integers(0, room - width + 1))
        ly0 = y0 + int(rng.integers(0, y1 - y0 - height + 1))
        lx1, ly1 = lx0 + width, ly0 + height
        fill = (255, 255, 255) if not theme.dark else theme.window
        self.list = self.scene.add(Element("list", (lx0, ly0, lx1, ly1), "", fill, theme.text, size))
        self.slots = []
        for i in range(visible + (partial > 0)):
            top = ly0 + 1 + i * item_h
            box = (lx0 + 1, top, lx1 - bar_w - 1, min(top + item_h, ly1 - 1))
            data = {"clip": ly1 - 1, "full": (box[0], top, box[2], top + item_h)} if i == visible else {}
            self.slots.append(self.scene.add(Element("list_item", box, "", fill, theme.text, size, data=data)))
        self.bar = self.scene.add(Element("scrollbar", (lx1 - bar_w - 1, ly0 + 1, lx1 - 1, ly1 - 1), "", theme.control))
        self.thumb = self.scene.add(Element("scroll_thumb", self.bar.box, "", theme.border))
        self.buttons = [
            self.scene.add(Element("button", (x1 - button_w, y0 + i * (button_h + 6), x1, y0 + i * (button_h + 6) + button_h),
                                   label, theme.control, theme.text, size))
            for i, label in enumerate(buttons)
        ]  # fmt: skip

        self.visible = visible
        self.index = int(rng.integers(count))
        self.top = 0 if rng.random() < 0.5 else int(rng.integers(0, count - visible + 1))
        self._scroll_to(self.top)
        item = self.items[self.index]
        phrases = PHRASES
        if self.index >= self.top + visible:
            phrases += DOWN
        elif self.index < self.top:
            phrases += UP
        self.instruction = self.say(phrases, item=item)

    def _scroll_to(self, top: int) -> None:
        """Show items from `top` on, move the scrollbar's thumb, and mark what the expert points at next."""
        count = len(self.items)
        self.top = top = int(np.clip(top, 0, count - self.visible))
        for i, slot in enumerate(self.slots):
            slot.visible = top + i < count
            slot.label = self.items[top + i] if slot.visible else ""
            slot.target = top + i == self.index and i < self.visible
        self.list.target = not self._shown()
        bx0, by0, bx1, by1 = self.bar.box
        span = by1 - by0
        thumb = max(6, span * self.visible // count)
        ty = by0 + (span - thumb) * top // (count - self.visible)
        self.thumb.box = (bx0 + 1, ty, bx1 - 1, ty + thumb)
        self.scene.changed()

    def _shown(self) -> bool:
        """Whether the target item is wholly visible (the partial slot does not count)."""
        return self.top <= self.index < self.top + self.visible

    def check(self, action) -> Outcome:
        kind = action["type"]
        if kind == SCROLL:
            if self.list.contains(*(action["point"] * self.size)):
                notches = int(np.rint(action["scroll"][0]))
                if notches and self.top != int(np.clip(self.top + notches, 0, len(self.items) - self.visible)):
                    self._scroll_to(self.top + notches)
            return Outcome.CONTINUE
        if kind not in MOUSE_PRESSES:
            return Outcome.CONTINUE
        hit = self.scene.hit(action["point"])
        if hit in self.slots:
            return Outcome.SUCCESS if hit.label == self.items[self.index] and kind == CLICK else Outcome.FAILURE
        return Outcome.FAILURE if hit in self.buttons else Outcome.CONTINUE

    def expert(self):
        if self._shown():
            return self.act("click", self.slots[self.index - self.top])
        # To the middle row, not just into view: a scroll a few notches off still shows the item whole, where
        # "just far enough" leaves it out of view after a scroll one notch short, and a neighbour gets clicked.
        top = int(np.clip(self.index - self.visible // 2, 0, len(self.items) - self.visible))
        return self.act("scroll", self.list, scroll=int(np.clip(top - self.top, -MAX_SCROLL, MAX_SCROLL)))
