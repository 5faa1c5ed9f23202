"""Generated English for the bundled T5: QA (with follow-ups), emotion and summarisation examples.

Everything is templated but varied: people, places, jobs, objects, dates and
events are drawn from pools, and sentences are drawn from several phrasings.
`split="train"` and `split="heldout"` use disjoint names, places, organisations
and emotion phrasings, so held-out quality measures what the model learnt to
do (copy the right span, read the cue, keep the facts), not what it memorised.

Every generator takes a `random.Random`, so a fixed seed gives fixed data.

Example:
>>> import random
>>> example = qa_examples(random.Random(0), 1, split="heldout")[0]
>>> example["answer"] in example["context"]
True
"""

import random

SPLITS = ("train", "heldout")

_FIRST_NAMES = (
    "Sally Tom Maria James Aisha Peter Chen Laura David Fatima Oliver Sofia Lucas Emma Noah Grace Omar Hannah "
    "Ivan Julia Kenji Lena Marco Nadia Oscar Priya Rafael Sara Tariq Ursula Victor Wendy Yusuf Zoe Anton Bella "
    "Carlos Dana Elif Felix Greta Hugo Ines Jonas Kira Liam Mona Nils Olga Pablo"
).split()
_HELDOUT_FIRST_NAMES = "Quentin Rosalind Sigrid Thaddeus Winifred Bartholomew Cordelia Ezekiel Florian Imogen".split()
_SURNAMES = (
    "Smith Garcia Brown Khan Novak Rossi Tanaka Weber Okafor Silva Jensen Murphy Dubois Kowalski Ahmed Larsen "
    "Moreau Becker Ivanova Costa Fischer Nakamura Haddad Lindqvist"
).split()
_HELDOUT_SURNAMES = "Abernathy Villanueva Ostrowski Featherstone Quispe".split()
_CITIES = (
    "London Paris Madrid Berlin Rome Lisbon Vienna Prague Dublin Oslo Warsaw Athens Cairo Lagos Nairobi Tokyo "
    "Seoul Lima Quito Toronto Chicago Denver Boston Sydney Perth Mumbai Delhi Istanbul Munich Seville"
).split()
_HELDOUT_CITIES = "Reykjavik Valparaiso Ljubljana Timbuktu Winnipeg Brisbane Zanzibar Krakow".split()
_ORGANISATIONS = (
    "Acme Robotics|Blue River Bank|the city council|Northwind Foods|Green Leaf Energy|the national museum|"
    "Sunrise Airlines|the public library|Orbit Telecom|the university hospital|Maple Software|Harbour Shipping"
).split("|")
_HELDOUT_ORGANISATIONS = "Crimson Peak Textiles|the regional observatory|Silverline Railways|Pinewood Studios".split("|")
_JOBS = (
    "teacher nurse engineer baker pilot lawyer farmer painter chemist journalist plumber architect librarian "
    "dentist chef gardener photographer electrician"
).split()
_OBJECTS = (
    "bicycle|piano|laptop|red car|small boat|camera|violin|telescope|blue jacket|wooden table|new phone|guitar|"
    "painting|tent|sewing machine|pair of boots"
).split("|")
_MONTHS = "January February March April May June July August September October November December".split()
_EVENTS = (
    "a new bridge|a music festival|a science fair|a charity run|a solar power plant|a food market|"
    "a children's hospital|a football stadium|a public park|an art exhibition|a cycling race|a book fair"
).split("|")
_ADJECTIVES = "a great success|a difficult project|good news for the city|an important step|a big surprise".split("|")


def _pools(split):
    if split not in SPLITS:
        raise ValueError(f"split must be one of {SPLITS}, got {split!r}.")
    held = split == "heldout"
    return {
        "first": _HELDOUT_FIRST_NAMES if held else _FIRST_NAMES,
        "surname": _HELDOUT_SURNAMES if held else _SURNAMES,
        "city": _HELDOUT_CITIES if held else _CITIES,
        "org": _HELDOUT_ORGANISATIONS if held else _ORGANISATIONS,
    }


def _date(rng):
    return f"{rng.randint(1, 28)} {rng.choice(_MONTHS)} {rng.randint(1990, 2025)}"


# === QA ===

_FACTS = {
    "city": ("{name} lives in {city}.", "{name} has a home in {city}.", "{name} moved to {city} years ago."),
    "job": ("{name} works as {a_job}.", "{name} is {a_job} by trade.", "By profession {name} is {a_job}."),
    "object": ("{name} bought a {object} on {date}.", "On {date}, {name} bought a {object}."),
    "age": ("{name} is {age} years old.", "{name} turned {age} this year."),
}
_QUESTIONS = {
    "city": ("Where does {name} live?", "In which city does {name} live?"),
    "job": ("What does {name} do for a living?", "What is {name}'s job?"),
    "object": ("What did {name} buy?", "What did {name} buy on {date}?"),
    "date": ("When did {name} buy the {object}?",),
    "age": ("How old is {name}?",),
}
_FOLLOW_UPS = {
    "city": ("And where does {pronoun} live?", "Where does {pronoun} live?"),
    "job": ("What does {pronoun} do for a living?", "And what is {possessive} job?"),
    "object": ("What did {pronoun} buy?",),
    "date": ("When did {pronoun} buy it?",),
    "age": ("How old is {pronoun}?", "And how old is {pronoun}?"),
}
_PRONOUNS = {"f": ("she", "her"), "m": ("he", "his")}
_FEMALE = set(
    "Sally Maria Aisha Laura Fatima Sofia Emma Grace Hannah Julia Lena Nadia Priya Sara Ursula Wendy Zoe Bella "
    "Dana Elif Greta Ines Kira Mona Olga Rosalind Sigrid Winifred Cordelia Imogen".split()
)


def _person(rng, pools, taken):
    while True:
        first = rng.choice(pools["first"])
        if first not in taken:
            break
    taken.add(first)
    job = rng.choice(_JOBS)
    return {
        "name": first,
        "full": f"{first} {rng.choice(pools['surname'])}",
        "gender": "f" if first in _FEMALE else "m",
        "city": rng.choice(pools["city"]),
        "job": job,
        "a_job": ("an " if job[0] in "aeiou" else "a ") + job,
        "object": rng.choice(_OBJECTS),
        "date": _date(rng),
        "age": str(rng.randint(18, 90)),
    }


def _answer(person, fact):
    return person["date"] if fact == "date" else person[fact]


def qa_examples(rng, count, split="train"):
    """`count` dicts with `question`, `context`, `prev_qa` ([(q, a)], maybe empty) and `answer`.

    Contexts describe two people; a third of the questions are
    follow-ups that name the person only through the previous question.
    """
    pools = _pools(split)
    examples = []
    for _ in range(count):
        taken = set()
        people = [_person(rng, pools, taken) for _ in range(2)]
        sentences = []
        for person in people:
            intro = f"{person['full']} is {person['a_job']}." if rng.random() < 0.3 else None
            facts = rng.sample(sorted(_FACTS), k=len(_FACTS))
            for fact in facts:
                if fact == "job" and intro:
                    sentences.append(intro)
                else:
                    sentences.append(rng.choice(_FACTS[fact]).format(**person))
        context = " ".join(sentences)
        target = rng.choice(people)
        fact = rng.choice(sorted(_QUESTIONS))
        prev_qa = []
        if rng.random() < 0.35:
            first_fact = rng.choice([f for f in sorted(_QUESTIONS) if f != fact])
            prev_qa.append((rng.choice(_QUESTIONS[first_fact]).format(**target), _answer(target, first_fact)))
            pronoun, possessive = _PRONOUNS[target["gender"]]
            question = rng.choice(_FOLLOW_UPS[fact]).format(pronoun=pronoun, possessive=possessive)
        else:
            if rng.random() < 0.3:
                other = rng.choice(people)
                other_fact = rng.choice(sorted(_QUESTIONS))
                prev_qa.append((rng.choice(_QUESTIONS[other_fact]).format(**other), _answer(other, other_fact)))
            question = rng.choice(_QUESTIONS[fact]).format(**target)
        examples.append(
            {"question": question, "context": context, "prev_qa": prev_qa, "answer": _answer(target, fact)}
        )
    return examples


# === Emotion ===

#: GoEmotions labels and phrasings: the first ones train, the last two are held out.
_EMOTION_TEMPLATES = {
    "joy": (
        "I am so happy that {event} finally opened!", "What a wonderful day, {event} opened near us.",
        "This makes me so happy: {event} in my town!", "I feel great, {event} is a joy to visit.",
        "Hooray, I am delighted about {event}!", "I am thrilled and happy today because of {event}.",
    ),
    "anger": (
        "I am furious that {event} was cancelled again.", "This is outrageous, they closed {event}!",
        "I am so angry about {event}, it makes me mad.", "How dare they ruin {event}, I am livid.",
        "I am fed up and angry with the people behind {event}.", "It makes my blood boil that {event} was shut.",
    ),
    "sadness": (
        "I feel so sad that {event} is gone.", "It breaks my heart that {event} closed.",
        "I miss {event}, I feel empty and sad.", "I cried when they told me {event} was over.",
        "I am heartbroken and sad about {event}.", "Everything feels gloomy since {event} ended.",
    ),
    "fear": (
        "I am scared to go to {event} alone.", "I am terrified of what will happen at {event}.",
        "I am afraid {event} is not safe.", "The thought of {event} makes me nervous and frightened.",
        "I am so frightened, {event} might collapse.", "I panic whenever I think about {event}.",
    ),
    "surprise": (
        "Wow, I did not expect {event} at all!", "I can't believe they built {event} so fast!",
        "What a surprise, {event} opened overnight!", "I am amazed, {event} appeared out of nowhere!",
        "No way, {event} is already here?", "I was shocked to find {event} next door!",
    ),
    "gratitude": (
        "Thank you so much for {event}.", "I am grateful to everyone who made {event} possible.",
        "Thanks a lot for organising {event}!", "Many thanks to the team behind {event}.",
        "I really appreciate the work on {event}, thank you.", "Thank you for bringing {event} to us.",
    ),
    "love": (
        "I love {event} with all my heart.", "I adore {event}, it is my favourite place.",
        "I absolutely love going to {event}.", "My heart belongs to {event}, I love it.",
        "I love you and I love {event}.", "I have always loved {event} so much.",
    ),
    "disgust": (
        "Ugh, {event} is disgusting and filthy.", "The food at {event} was gross and revolting.",
        "{event} smells awful, it is disgusting.", "I find {event} repulsive and dirty.",
        "Yuck, the toilets at {event} were nasty.", "I was sickened by the mess at {event}.",
    ),
    "neutral": (
        "{event} opens at nine in the morning.", "The bus to {event} leaves every hour.",
        "{event} is next to the train station.", "Tickets for {event} are sold at the entrance.",
        "{event} was built in the north of the town.", "There is a car park behind {event}.",
    ),
    "curiosity": (
        "I wonder how they built {event}?", "What is inside {event}, does anyone know?",
        "I am curious, who designed {event}?", "How does {event} get its funding, I wonder?",
        "Why did they choose this place for {event}?", "Does anyone know when {event} was planned?",
    ),
    "admiration": (
        "{event} is impressive, what brilliant work.", "I admire the people who built {event}, amazing job.",
        "Such a beautiful and well made {event}, great work.", "The design of {event} is excellent.",
        "Incredible craftsmanship went into {event}.", "Bravo to the builders, {event} is magnificent.",
    ),
    "disappointment": (
        "I was really disappointed by {event}.", "{event} was a let down, what a shame.",
        "I expected more from {event}, it was disappointing.", "Sadly {event} did not live up to the hype.",
        "What a letdown, {event} was so mediocre.", "I hoped {event} would be better, it was underwhelming.",
    ),
}
EMOTIONS = tuple(_EMOTION_TEMPLATES)
_HELDOUT_TEMPLATES_PER_EMOTION = 2


def _event_phrase(rng, pools):
    event = rng.choice(_EVENTS)
    return rng.choice((event, f"{event} in {rng.choice(pools['city'])}", event.replace("a ", "the ", 1)))


def emotion_examples(rng, count, split="train"):
    """`count` dicts with `text` and `emotion` (a GoEmotions label), balanced over `EMOTIONS`."""
    pools = _pools(split)
    cut = -_HELDOUT_TEMPLATES_PER_EMOTION
    examples = []
    for i in range(count):
        emotion = EMOTIONS[i % len(EMOTIONS)]
        templates = _EMOTION_TEMPLATES[emotion]
        template = rng.choice(templates[cut:] if split == "heldout" else templates[:cut])
        text = template.format(event=_event_phrase(rng, pools))
        examples.append({"text": text[0].upper() + text[1:], "emotion": emotion})
    rng.shuffle(examples)
    return examples


# === Summarisation ===

_OPENINGS = (
    "On {date}, {org} opened {event} in {city}.",
    "{org} opened {event} in {city} on {date}.",
    "In {city}, {org} opened {event} on {date}.",
)
_QUOTES = (
    "{person}, a spokesperson for {org}, said it was {adjective}.",
    "\"It is {adjective},\" said {person} of {org}.",
    "{person} of {org} called it {adjective}.",
)
_FILLERS = (
    "The weather was mild and many families came with their children.",
    "Local shops stayed open late for the occasion.",
    "A band played in the square for most of the afternoon.",
    "Some residents complained about the traffic in the morning.",
    "Buses ran more often than usual during the day.",
    "Volunteers handed out free water near the entrance.",
    "The opening had been planned for more than two years.",
    "Several journalists from other countries attended.",
    "Police closed two streets around the site.",
    "Food stalls sold local dishes until the evening.",
)
_COUNTS = ("{visitors} people came on the first day.", "About {visitors} visitors attended the opening.")


def summary_examples(rng, count, split="train"):
    """`count` dicts with `text` (a report of five to seven sentences) and `summary` (its key facts).

    The summary names the organisation, the event, the city, the date, the
    number of visitors and the person quoted; `key_facts` lists them.
    """
    pools = _pools(split)
    examples = []
    for _ in range(count):
        facts = {
            "date": _date(rng),
            "org": rng.choice(pools["org"]),
            "event": rng.choice(_EVENTS),
            "city": rng.choice(pools["city"]),
            "person": f"{rng.choice(pools['first'])} {rng.choice(pools['surname'])}",
            "adjective": rng.choice(_ADJECTIVES),
            "visitors": str(rng.randrange(200, 20000, 50)),
        }
        body = [rng.choice(_QUOTES), rng.choice(_COUNTS)] + rng.sample(_FILLERS, k=rng.randint(2, 4))
        rng.shuffle(body)
        sentences = [rng.choice(_OPENINGS)] + body
        text = " ".join(s.format(**facts) for s in sentences)
        text = text[0].upper() + text[1:]
        summary = (
            f"{facts['org']} opened {facts['event']} in {facts['city']} on {facts['date']}. "
            f"{facts['visitors']} people came, and {facts['person']} said it was {facts['adjective']}."
        )
        key_facts = [facts[k] for k in ("org", "event", "city", "date", "visitors", "person")]
        examples.append({"text": text, "summary": summary[0].upper() + summary[1:], "key_facts": key_facts})
    return examples

