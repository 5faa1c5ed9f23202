"""Generated English sentences about countries and coloured shapes, and a word-level BERT vocabulary for them.

Shared by the fill-mask and sentence-pair recipes.
"""

import keras_hub

#: country -> (capital, language, another city)
COUNTRIES = {
    "france": ("paris", "french", "lyon"), "germany": ("berlin", "german", "munich"),
    "italy": ("rome", "italian", "milan"), "spain": ("madrid", "spanish", "seville"),
    "portugal": ("lisbon", "portuguese", "porto"), "poland": ("warsaw", "polish", "krakow"),
    "greece": ("athens", "greek", "patras"), "sweden": ("stockholm", "swedish", "malmo"),
    "norway": ("oslo", "norwegian", "bergen"), "finland": ("helsinki", "finnish", "turku"),
    "austria": ("vienna", "german", "graz"), "hungary": ("budapest", "hungarian", "szeged"),
    "japan": ("tokyo", "japanese", "osaka"), "egypt": ("cairo", "arabic", "giza"),
    "peru": ("lima", "spanish", "cusco"), "kenya": ("nairobi", "swahili", "mombasa"),
}
COLOURS = ("red", "blue", "green", "yellow", "black", "white", "brown", "grey")
SHAPES = ("circle", "square", "triangle", "line", "star", "box", "ball", "cube")
FACT_TEMPLATES = (
    "{capital} is the capital of {country} .",
    "the capital of {country} is {capital} .",
    "{city} is a city in {country} .",
    "people in {country} speak {language} .",
    "in {capital} people speak {language} .",
    "{capital} and {city} are cities in {country} .",
)
SHAPE_TEMPLATES = (
    "the {shape} is {colour} .",
    "there is a {colour} {shape} .",
    "a {colour} {shape} .",
    "the colour of the {shape} is {colour} .",
    "i see a {colour} {shape} .",
)
SPECIAL_TOKENS = ["[PAD]", "[UNK]", "[CLS]", "[SEP]", "[MASK]"]


def fact_sentences():
    return [template.format(country=country, capital=capital, language=language, city=city)
            for country, (capital, language, city) in COUNTRIES.items() for template in FACT_TEMPLATES]


def shape_sentence(template, colour, shape):
    return template.format(colour=colour, shape=shape)


def vocabulary():
    """Every word of every template, after BERT's special tokens."""
    sentences = fact_sentences() + [shape_sentence(t, c, s) for t in SHAPE_TEMPLATES for c in COLOURS for s in SHAPES]
    words = sorted({word for sentence in sentences for word in sentence.split()})
    return SPECIAL_TOKENS + words


def bert_tokenizer():
    return keras_hub.models.BertTokenizer(vocabulary=vocabulary(), lowercase=True)
