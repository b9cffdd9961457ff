"""Press a keyboard shortcut, named ("press ctrl+s") or described ("save the document")."""

from __future__ import annotations

from minvla_gym.actions import HOTKEY, HOTKEY_INDEX
from minvla_gym.envs.synthetic.scene import Element
from minvla_gym.envs.synthetic.tasks.base import Outcome, Task
from minvla_gym.envs.synthetic.words import LABELS
from minvla_gym.envs.synthetic.world import Phrases

NAMED = Phrases(
    v0=(
        "press {combo}",
        "use the keyboard shortcut {combo}",
        "hit {combo} on the keyboard",
        "type the shortcut {combo}",
    ),
    train=(
        "press {combo}", "use the keyboard shortcut {combo}", "hit {combo} on the keyboard", "type the shortcut {combo}",
        "press the {combo} shortcut", "use {combo}", "press the keys {combo}", "hit {combo}",
        "press {combo} on the keyboard", "send the shortcut {combo}",
    ),
    test=("trigger {combo}", "use the key combination {combo}", "activate the shortcut {combo}"),
)  # fmt: skip
# Shortcuts described by what they do; the same descriptions in both splits of the open world.
DESCRIBED_TEXTS = {
    "ctrl+s": ("save the document", "save your work", "save the file"),
    "ctrl+c": ("copy the selection", "copy the selected text"),
    "ctrl+v": ("paste from the clipboard", "paste the copied text"),
    "ctrl+x": ("cut the selection", "cut the selected text"),
    "ctrl+z": ("undo the last change", "undo that"),
    "ctrl+y": ("redo the last change", "redo what you undid"),
    "ctrl+a": ("select all the text", "select everything"),
    "ctrl+f": ("find text in the document", "open the search box"),
    "ctrl+p": ("print the document", "print this page"),
    "ctrl+n": ("create a new document", "open a new window"),
    "ctrl+o": ("open a file", "show the open file dialog"),
    "ctrl+w": ("close the current tab", "close this tab"),
    "ctrl+t": ("open a new tab",),
    "ctrl+q": ("quit the application", "exit the program"),
    "enter": ("confirm the dialog", "submit the form"),
    "escape": ("dismiss the dialog", "cancel the dialog"),
    "tab": ("move to the next field",),
    "f5": ("refresh the page", "reload the page"),
    "f1": ("open the help",),
    "alt+f4": ("close the window",),
}
DESCRIBED = {combo: Phrases(texts) for combo, texts in DESCRIBED_TEXTS.items()}


class HotkeyTask(Task):
    family = "Hotkey"
    max_steps = 5

    def build(self) -> None:
        name = self.pick("word", LABELS)
        _, (x0, y0, x1, y1) = self.window(f"{name}.txt - Editor")
        size = self.theme.font_size
        y = y0 + 2
        for _ in range(int(self.rng.integers(2, 8))):  # some document text, as decoration
            words = self.pick("word", LABELS, int(self.rng.integers(2, 6)))
            while len(words) > 1 and self.text_size(" ".join(words), size)[0] > x1 - x0 - 4:
                words.pop()  # keep the line inside the window
            if y + size + 4 > y1:
                break
            self.scene.add(
                Element("label", (x0 + 2, y, x1, y + size + 4), " ".join(words), ink=self.theme.text, font_size=size)
            )
            y += size + 4
        if self.rng.random() < 0.5:
            self.combo = self.choice(list(DESCRIBED))
            self.instruction = self.say(DESCRIBED[self.combo])
        else:
            self.combo = self.choice(list(HOTKEY_INDEX))
            combo = self.combo
            if self.world.open:  # key names as people write them: ctrl+s, Ctrl+S, CTRL+S
                combo = (combo, "+".join(k.capitalize() if len(k) > 1 else k.upper() for k in combo.split("+")),
                         combo.upper())[int(self.rng.integers(3))]  # fmt: skip
            self.instruction = self.say(NAMED, combo=combo)

    def check(self, action) -> Outcome:
        if action["type"] != HOTKEY:
            return Outcome.CONTINUE
        return Outcome.SUCCESS if action["hotkey"] == HOTKEY_INDEX[self.combo] else Outcome.FAILURE

    def expert(self):
        return self.act("hotkey", hotkey=self.combo)
