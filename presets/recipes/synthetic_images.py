"""Generated pictures of shapes with captions, drawn with PIL, for the bundled image models.

Each picture has one to three shapes of one colour and kind, a size, a place
and a background (plain, striped or dotted); its caption says all of that in
one of several phrasings ("two small red circles on the left, on a striped
background"). A fixed seed gives fixed pictures; held-out pictures come from
another seed.

Example:
>>> import random
>>> picture = pictures(random.Random(0), 1)[0]
>>> picture.image.size, picture.label in labels()
((64, 64), True)
"""

import dataclasses
import math

from PIL import Image, ImageDraw

IMAGE_SIZE = 64
COLOURS = {
    "red": (220, 30, 30),
    "green": (30, 170, 50),
    "blue": (30, 60, 220),
    "yellow": (240, 210, 20),
    "purple": (140, 40, 170),
    "orange": (250, 130, 10),
}
SHAPES = ("circle", "square", "triangle", "cross")
COUNTS = {1: "one", 2: "two", 3: "three"}
SIZES = {"small": 0.13, "large": 0.22}
PLACES = {"on the left": (0.28, 0.5), "on the right": (0.72, 0.5), "at the top": (0.5, 0.28),
          "at the bottom": (0.5, 0.72), "in the middle": (0.5, 0.5)}
BACKGROUNDS = ("plain", "striped", "dotted")
_BACKGROUND_TONES = ((245, 245, 240), (225, 230, 235), (200, 200, 200), (60, 60, 60))


def labels():
    """The zero-shot and supervised labels: "red circle", "red square", ..."""
    return [f"{colour} {shape}" for colour in COLOURS for shape in SHAPES]


@dataclasses.dataclass
class Picture:
    image: Image.Image
    caption: str
    colour: str
    shape: str
    count: int
    size: str = "small"
    place: str = "in the middle"
    background: str = "plain"

    @property
    def label(self):
        return f"{self.colour} {self.shape}"


def plural(shape, count):
    return shape if count == 1 else (shape + "es" if shape.endswith("ss") else shape + "s")


def _caption(rng, colour, shape, count, size, place, background):
    things = f"{COUNTS[count] if count > 1 else 'a'} {size} {colour} {plural(shape, count)}"
    return rng.choice(
        (
            f"{things} {place}, on a {background} background",
            f"a picture of {things} {place}",
            f"{things} on a {background} background",
            f"{things}",
            f"a {background} background with {things} {place}",
        )
    )


def _draw_shape(draw, shape, centre, radius, fill):
    x, y = centre
    if shape == "circle":
        draw.ellipse((x - radius, y - radius, x + radius, y + radius), fill=fill)
    elif shape == "square":
        side = radius * 0.9
        draw.rectangle((x - side, y - side, x + side, y + side), fill=fill)
    elif shape == "triangle":
        points = [(x + radius * math.sin(a), y - radius * math.cos(a)) for a in (0, 2 * math.pi / 3, 4 * math.pi / 3)]
        draw.polygon(points, fill=fill)
    else:
        arm = radius * 0.35
        draw.rectangle((x - radius, y - arm, x + radius, y + arm), fill=fill)
        draw.rectangle((x - arm, y - radius, x + arm, y + radius), fill=fill)


def _background(rng, kind):
    tone = rng.choice(_BACKGROUND_TONES)
    image = Image.new("RGB", (IMAGE_SIZE, IMAGE_SIZE), tone)
    draw = ImageDraw.Draw(image)
    ink = tuple(min(255, c + 40) if sum(tone) < 300 else c - 40 for c in tone)
    if kind == "striped":
        step = rng.choice((6, 8, 10))
        for offset in range(0, IMAGE_SIZE, step):
            draw.line((offset, 0, offset, IMAGE_SIZE) if rng.random() < 0.5 else (0, offset, IMAGE_SIZE, offset),
                      fill=ink, width=2)
    elif kind == "dotted":
        for _ in range(40):
            x, y = rng.randrange(IMAGE_SIZE), rng.randrange(IMAGE_SIZE)
            draw.ellipse((x - 1, y - 1, x + 1, y + 1), fill=ink)
    return image


def pictures(rng, count):
    """`count` `Picture`s drawn with `rng` (a `random.Random`)."""
    out = []
    for _ in range(count):
        colour, shape = rng.choice(list(COLOURS)), rng.choice(SHAPES)
        number, size = rng.choice(list(COUNTS)), rng.choice(list(SIZES))
        place, background = rng.choice(list(PLACES)), rng.choice(BACKGROUNDS)
        image = _background(rng, background)
        draw = ImageDraw.Draw(image)
        radius = SIZES[size] * IMAGE_SIZE * (0.75 if number > 1 else 1.0)
        cx, cy = PLACES[place]
        spread = 2.3 * radius
        offsets = [(i - (number - 1) / 2) * spread for i in range(number)]
        horizontal = place in ("at the top", "at the bottom", "in the middle")
        fill = tuple(max(0, min(255, c + rng.randint(-25, 25))) for c in COLOURS[colour])
        for offset in offsets:
            x = cx * IMAGE_SIZE + (offset if horizontal else 0) + rng.uniform(-2, 2)
            y = cy * IMAGE_SIZE + (0 if horizontal else offset) + rng.uniform(-2, 2)
            _draw_shape(draw, shape, (x, y), radius, fill)
        caption = _caption(rng, colour, shape, number, size, place, background)
        out.append(Picture(image, caption, colour, shape, number, size, place, background))
    return out
