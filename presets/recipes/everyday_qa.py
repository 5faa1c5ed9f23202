"""Question/context/answer triples in varied everyday English, for span QA on MiniLM.

Each context describes one to three people (faker names, cities, companies, jobs, dates,
numbers, prices, objects) in sentences drawn from many shapes, mixed with distractor
sentences; questions are paraphrases that often share few words with the context.
A share of questions is unanswerable (their answer is ""), and a share are follow-ups
whose history (`prev_q`, `prev_a`) the question leans on ("When did she move there?").

Needs `faker` (the recipes extra). Everything is drawn from one `random.Random`, so a seed
gives the same examples; faker is reseeded from it.
"""

import random

from faker import Faker

LOCALES = ["en_US", "en_GB", "en_AU", "en_IE", "fr_FR", "de_DE", "es_ES", "it_IT", "nl_NL", "pt_BR"]
REAL_CITIES = ("London Paris Berlin Madrid Lisbon Rome Vienna Prague Warsaw Dublin Oslo Stockholm Helsinki Athens "
               "Cairo Lagos Nairobi Accra Mumbai Delhi Tokyo Osaka Seoul Beijing Shanghai Sydney Melbourne Auckland "
               "Toronto Vancouver Montreal Chicago Boston Seattle Denver Houston Miami Atlanta Lima Bogota Santiago "
               "Manchester Glasgow Leeds Bristol Edinburgh Cardiff Lyon Marseille Munich Hamburg Milan Naples "
               "Barcelona Seville Porto Krakow Budapest Zagreb").split()
OBJECTS = ["bicycle", "used car", "piano", "laptop", "red sofa", "pair of running shoes", "telescope", "camera",
           "second-hand guitar", "garden shed", "kayak", "washing machine", "painting", "tent", "sewing machine",
           "motorbike", "coffee machine", "bookcase", "violin", "drone", "house", "flat", "boat", "puppy"]
PETS = ["cats", "dogs", "rabbits", "goldfish", "chickens", "horses", "parrots", "tortoises"]
RELATIVES = ["children", "sisters", "brothers", "grandchildren", "cousins"]
INSTRUMENTS = ["the piano", "the violin", "the drums", "the cello", "the guitar", "the flute", "the trumpet"]
SPORTS = ["tennis", "football", "chess", "volleyball", "rugby", "badminton", "golf", "basketball", "cricket"]
FOODS = ["pasta", "sushi", "curry", "pancakes", "tacos", "lentil soup", "roast chicken", "dumplings", "paella"]
LANGUAGES = ["French", "Spanish", "German", "Japanese", "Portuguese", "Arabic", "Hindi", "Italian", "Polish",
             "Mandarin", "Swahili", "Dutch"]
VEHICLES = ["train", "bus", "ferry", "bike", "car", "tram"]
FILLERS = [
    "It was a busy week.", "The weather stayed mild for most of the month.", "Nobody expected the news.",
    "The local paper covered the story.", "Prices have risen sharply this year.", "Everyone agreed it was a good day.",
    "The road was closed for repairs.", "Most of the neighbours were away on holiday.", "It rained all afternoon.",
    "Tickets sold out within an hour.", "The meeting ran late.", "Traffic was heavy in the morning.",
    "The shop on the corner closed down last spring.", "A storm hit the coast overnight.",
]
MONTHS = ["January", "February", "March", "April", "May", "June", "July", "August", "September", "October",
          "November", "December"]
SUBJECTS = ["English", "maths", "history", "music", "chemistry", "French", "art", "biology", "geography"]
REPAIRS = ["clocks and watches", "old radios", "bicycles", "shoes", "sewing machines", "guitars", "lawnmowers"]
COLOURS = ["red", "blue", "white", "green", "black", "yellow"]
WEEKDAYS = ["Monday", "Tuesday", "Wednesday", "Thursday", "Friday", "Saturday", "Sunday"]


class Person:
    def __init__(self, fake, rng):
        self.female = rng.random() < 0.5
        self.first = fake.first_name_female() if self.female else fake.first_name_male()
        self.last = fake.last_name()
        self.he, self.him, self.his = ("she", "her", "her") if self.female else ("he", "him", "his")

    def ref(self, rng):
        """How a sentence names the person: full name, first name or title."""
        roll = rng.random()
        if roll < 0.35:
            return f"{self.first} {self.last}"
        if roll < 0.85:
            return self.first
        return f"{'Ms' if self.female else 'Mr'} {self.last}"


def _number_word(n, rng):
    words = ["no", "one", "two", "three", "four", "five", "six", "seven", "eight", "nine", "ten", "eleven", "twelve"]
    return words[n] if n < len(words) and rng.random() < 0.5 else str(n)


def _date(rng):
    day, month, year = rng.randint(1, 28), rng.choice(MONTHS), rng.randint(1950, 2025)
    return rng.choice([f"{day} {month} {year}", f"{month} {day}, {year}"]), year


def _money(rng):
    amount = rng.choice([rng.randint(5, 99), rng.randint(100, 999), rng.randint(1, 60) * 1000])
    return rng.choice([f"${amount:,}", f"£{amount:,}", f"{amount:,} euros", f"€{amount:,}"])


def _city(fake, rng):
    return rng.choice(REAL_CITIES) if rng.random() < 0.6 else fake.city()


def _company(fake, rng):
    if rng.random() < 0.6:
        return fake.company()
    kind = rng.choice(["Hospital", "Bank", "Museum", "University", "Library", "Theatre", "Institute", "Bakery"])
    return f"the {fake.last_name()} {kind}"


def _facts(fake, rng, person):
    """(kind, sentence(name), [(question(name, pronoun?), answer)]) for one person.

    Each question is a function of how the person is named in the question (a name or a pronoun).
    """
    facts = []
    city, other_city = _city(fake, rng), _city(fake, rng)
    year = rng.randint(1985, 2024)
    facts.append(("city", rng.choice([
        lambda n: f"{n} lives in {city}.", lambda n: f"{n} has lived in {city} since {year}.",
        lambda n: f"These days {n} lives in {city}.", lambda n: f"{n} moved to {city} in {year}.",
        lambda n: f"In {year} {n} moved to {city}, where {n} still lives.",
        lambda n: f"{n} grew up in {other_city} but now lives in {city}.",
        lambda n: f"Home for {n} is a small flat in {city}.",
    ]), [
        (lambda n: rng.choice([f"Where does {n} live?", f"Which city does {n} live in?", f"Where is {n} based?",
                               f"Where is {n}'s home?", f"In what city does {n} live now?"]), city),
        (lambda n: rng.choice([f"When did {n} move there?", f"Since when has {n} lived in {city}?",
                               f"What year did {n} move to {city}?"]), str(year)),
    ]))
    job, company = fake.job().split(",")[0].lower(), _company(fake, rng)
    article = "an" if job[0] in "aeiou" else "a"
    facts.append(("job", rng.choice([
        lambda n: f"{n} works as {article} {job} at {company}.", lambda n: f"{n} is {article} {job} with {company}.",
        lambda n: f"By profession {n} is {article} {job}; {n.split()[0]}'s employer is {company}.",
        lambda n: f"{n} joined {company} as {article} {job} in {year}.",
    ]), [
        (lambda n: rng.choice([f"What does {n} do for a living?", f"What is {n}'s job?", f"What is {n}'s profession?",
                               f"What does {n} work as?"]), job),
        (lambda n: rng.choice([f"Who does {n} work for?", f"Who employs {n}?", f"Where does {n} work?",
                               f"Which organisation does {n} work for?"]), company),
    ]))
    age = rng.randint(4, 95)
    born, _ = _date(rng)
    facts.append(("age", rng.choice([
        lambda n: f"{n} is {age} years old.", lambda n: f"{n} turned {age} last {rng.choice(MONTHS)}.",
        lambda n: f"At {age}, {n} is the oldest in the family.",
    ]), [(lambda n: rng.choice([f"How old is {n}?", f"What is {n}'s age?", f"What age is {n}?"]), str(age))]))
    facts.append(("born", rng.choice([
        lambda n: f"{n} was born on {born}.", lambda n: f"{n} was born in {other_city} on {born}.",
    ]), [(lambda n: rng.choice([f"When was {n} born?", f"What is {n}'s date of birth?",
                                f"On what date was {n} born?"]), born)]))
    thing, price = rng.choice(OBJECTS), _money(rng)
    when = rng.choice(["last week", "in the spring", "on Saturday", "a month ago", f"in {year}", "yesterday"])
    facts.append(("bought", rng.choice([
        lambda n: f"{n} bought a {thing} for {price} {when}.", lambda n: f"{when.capitalize()}, {n} paid {price} for a {thing}.",
        lambda n: f"{n} spent {price} on a {thing} {when}.",
    ]), [
        (lambda n: rng.choice([f"What did {n} buy?", f"What did {n} purchase {when}?", f"What did {n} spend money on?"]),
         f"a {thing}"),
        (lambda n: rng.choice([f"How much did {n} pay for the {thing}?", f"How much did the {thing} cost?",
                               f"What was the price of {n}'s {thing}?"]), price),
    ]))
    count, animals = rng.randint(1, 12), rng.choice(PETS + RELATIVES)
    facts.append(("count", rng.choice([
        lambda n: f"{n} has {_number_word(count, rng)} {animals}.",
        lambda n: f"{n} looks after {_number_word(count, rng)} {animals} at home.",
    ]), [(lambda n: rng.choice([f"How many {animals} does {n} have?", f"How many {animals} has {n} got?"]), None)]))
    height = rng.choice([f"{rng.randint(150, 200)} cm", f"1.{rng.randint(45, 99)} metres",
                         f"{rng.randint(5, 6)} feet {rng.randint(0, 11)} inches"])
    facts.append(("height", lambda n: f"{n} is {height} tall.",
                  [(lambda n: rng.choice([f"How tall is {n}?", f"What is {n}'s height?"]), height)]))
    sport, food, language = rng.choice(SPORTS), rng.choice(FOODS), rng.choice(LANGUAGES)
    facts.append(("hobby", rng.choice([
        lambda n: f"On weekends {n} plays {sport}.", lambda n: f"{n} has played {sport} since school.",
    ]), [(lambda n: rng.choice([f"What sport does {n} play?", f"Which game does {n} play at weekends?"]), sport)]))
    facts.append(("food", lambda n: f"{n}'s favourite dish is {food}.",
                  [(lambda n: rng.choice([f"What is {n}'s favourite food?", f"What does {n} like to eat most?"]),
                    food)]))
    facts.append(("language", rng.choice([
        lambda n: f"{n} speaks fluent {language}.", lambda n: f"{n} is learning {language} at evening classes.",
    ]), [(lambda n: rng.choice([f"Which language does {n} speak?", f"What language is {n} learning?"]), language)]))
    subject, place = rng.choice(SUBJECTS), rng.choice(["a primary school", "the local college", "night classes",
                                                       "a language school", "the university"])
    facts.append(("teaches", lambda n: f"{n} teaches {subject} at {place}.",
                  [(lambda n: rng.choice([f"What does {n} teach?", f"Which subject does {n} teach?"]), subject),
                   (lambda n: f"Where does {n} teach?", place)]))
    things, drives = rng.choice(REPAIRS), f"a {rng.choice(COLOURS)} {rng.choice(['van', 'truck', 'taxi', 'bus', 'tractor'])}"
    facts.append(("repairs", lambda n: f"For years {n} has repaired {things} in a workshop behind the house.",
                  [(lambda n: rng.choice([f"What does {n} repair?", f"What does {n} fix?"]), things)]))
    facts.append(("drives", lambda n: f"{n} drives {drives} for a living.",
                  [(lambda n: rng.choice([f"What does {n} drive?", f"What vehicle does {n} drive?"]), drives)]))
    vehicle, minutes = rng.choice(VEHICLES), rng.randint(5, 90)
    facts.append(("commute", lambda n: f"{n} takes the {vehicle} to work, which takes {minutes} minutes.",
                  [(lambda n: rng.choice([f"How does {n} get to work?", f"How does {n} travel to work?"]),
                    f"the {vehicle}"),
                   (lambda n: rng.choice([f"How long is {n}'s commute?", f"How long does it take {n} to get to work?"]),
                    f"{minutes} minutes")]))
    day = rng.choice(WEEKDAYS)
    facts.append(("trip", lambda n: f"Last {day}, {n} flew to {other_city} for a conference.",
                  [(lambda n: rng.choice([f"Where did {n} fly to?", f"Where did {n} go last {day}?"]), other_city),
                   (lambda n: rng.choice([f"When did {n} fly to {other_city}?", f"Which day did {n} travel?"]),
                    f"Last {day}")]))
    # The count question's answer is how the number was written in the sentence, resolved when rendering.
    return facts, count


def _entity_facts(fake, rng):
    """Facts about things rather than people: places, buildings, organisations."""
    facts = []
    name = f"{fake.last_name()} {rng.choice(['Tower', 'Bridge', 'Stadium', 'Cathedral', 'Hall'])}"
    metres, year = rng.randint(20, 400), rng.randint(1600, 2020)
    facts.append((lambda: f"The {name} is {metres} metres tall and was finished in {year}.",
                  [(f"How tall is the {name}?", f"{metres} metres"),
                   (rng.choice([f"When was the {name} finished?", f"When was the {name} completed?"]), str(year))]))
    river, km = f"River {fake.last_name()}", rng.randint(30, 3000)
    facts.append((lambda: f"The {river} is {km:,} kilometres long.",
                  [(rng.choice([f"How long is the {river}?", f"What is the length of the {river}?"]),
                    f"{km:,} kilometres")]))
    company, founder = fake.company(), fake.name()
    city = _city(fake, rng)
    facts.append((lambda: f"{company} was founded by {founder} in {city} in {year}.",
                  [(rng.choice([f"Who founded {company}?", f"Who started {company}?"]), founder),
                   (rng.choice([f"Where was {company} founded?", f"In which city did {company} start?"]), city),
                   (rng.choice([f"When was {company} founded?", f"In what year was {company} set up?"]), str(year))]))
    staff = f"{rng.choice(['', 'about ', 'nearly ', 'around ', 'more than '])}{rng.randint(3, 90000):,}"
    facts.append((lambda: f"{company} employs {staff} people.",
                  [(rng.choice([f"How many people work at {company}?", f"How many staff does {company} have?"]),
                    staff)]))
    home, away = fake.city() + " " + rng.choice(["United", "Rovers", "City", "Athletic"]), fake.city() + " FC"
    goals, day, scorer = f"{rng.randint(0, 5)}-{rng.randint(0, 5)}", rng.choice(WEEKDAYS), fake.name()
    facts.append((lambda: f"{home} beat {away} {goals} on {day} night, and {scorer} scored the winning goal.",
                  [(rng.choice(["What was the score?", f"What was the final score against {away}?"]), goals),
                   (rng.choice(["Which day was the match played?", f"When did {home} play {away}?"]), day),
                   (rng.choice(["Who scored the winning goal?", f"Who scored for {home}?"]), scorer),
                   (rng.choice(["Who won the match?", f"Which team beat {away}?"]), home)]))
    return facts


def qa_examples(seed, count, unanswerable=0.12, follow_up=0.2):
    """`count` dicts `{"question", "context", "answer", "answer_start", "prev_q", "prev_a"}`.

    `answer` is "" (and `answer_start` -1) for unanswerable questions.
    """
    rng = random.Random(seed)
    fake = Faker(LOCALES)
    Faker.seed(rng.randrange(2**31))
    examples = []
    while len(examples) < count:
        if rng.random() < 0.15:
            examples.append(_thing_example(fake, rng, unanswerable))
            continue
        people = [Person(fake, rng) for _ in range(rng.choice([1, 1, 2, 2, 3]))]
        while len({p.first for p in people}) < len(people):
            people = [Person(fake, rng) for _ in range(len(people))]
        sentences, questions = [], []
        for index, person in enumerate(people):
            facts, number = _facts(fake, rng, person)
            chosen = rng.sample(facts, rng.randint(2, 5))
            left_out = [f for f in facts if f not in chosen]
            for position, (kind, sentence, qas) in enumerate(chosen):
                name = person.ref(rng) if position == 0 else (
                    person.he if rng.random() < 0.3 and index == len(people) - 1 else person.first)
                text = _tidy(sentence(name))
                sentences.append(text)
                for question, answer in qas:
                    if answer is None:
                        answer = next(w for w in text.split() if w.isdigit() or w in (
                            "one two three four five six seven eight nine ten eleven twelve".split()))
                    if answer in text:  # a sentence shape may leave a fact out (the year of a move)
                        questions.append((person, question, answer, kind))
            for kind, sentence, qas in left_out[:2]:
                questions.append((person, qas[0][0], "", kind))
        stranger = Person(fake, rng)
        stranger_question = rng.choice(["Where does {} live?", "How old is {}?", "What does {} do for a living?"])
        questions.append((stranger, stranger_question.format, "", "stranger"))
        if rng.random() < 0.5:
            sentences.insert(rng.randint(0, len(sentences)), rng.choice(FILLERS))
        context = " ".join(sentences)
        answerable = [q for q in questions if q[2]]
        unanswerable_qs = [q for q in questions if not q[2]]
        if rng.random() < follow_up and len(answerable) >= 2:
            examples.append(_follow_up(rng, context, answerable))
            continue
        person, question, answer, kind = rng.choice(unanswerable_qs if rng.random() < unanswerable else answerable)
        examples.append(_example(question(person.first if rng.random() < 0.7 else f"{person.first} {person.last}"),
                                 context, answer))
    return examples


def _tidy(text):
    """Capitalised, pronouns made possessive where a name took "'s", no doubled full stop."""
    for pronoun, possessive in (("she", "her"), ("he", "his")):
        text = text.replace(f" {pronoun}'s ", f" {possessive} ")
        for verb in ("take", "employs"):  # object position: "does it take him", "who employs her"
            text = text.replace(f" {verb} {pronoun} ", f" {verb} {possessive if pronoun == 'she' else 'him'} ")
            text = text.replace(f" {verb} {pronoun}?", f" {verb} {possessive if pronoun == 'she' else 'him'}?")
        if text.startswith(f"{pronoun}'s "):
            text = possessive + text[len(pronoun) + 2:]
    text = text.replace("..", ".")
    return text[0].upper() + text[1:]


def _example(question, context, answer, prev_q=(), prev_a=()):
    start = context.find(answer) if answer else -1
    if answer and start < 0:
        raise ValueError(f"{answer!r} is not in {context!r}")
    return {"question": question, "context": context, "answer": answer, "answer_start": start,
            "prev_q": list(prev_q), "prev_a": list(prev_a)}


def _follow_up(rng, context, answerable):
    """A question about the same person as the one before, naming them by pronoun."""
    first = rng.choice(answerable)
    person = first[0]
    same = [q for q in answerable if q[0] is person and q is not first]
    if not same:
        return _example(first[1](person.first), context, first[2])
    others = [q for q in answerable if q[0] is not person and q[3] == first[3]]
    if others and rng.random() < 0.5:
        # An elided follow-up: the same question about someone else ("And Omar?").
        other, _, answer, _ = rng.choice(others)
        follow = rng.choice([f"And {other.first}?", f"What about {other.first}?"])
        return _example(follow, context, answer, prev_q=[first[1](person.first)], prev_a=[first[2]])
    _, question, answer, _ = rng.choice(same)
    follow = _tidy(question(person.he))
    if rng.random() < 0.3:
        follow = "And " + follow[0].lower() + follow[1:]
    return _example(follow, context, answer, prev_q=[first[1](person.first)], prev_a=[first[2]])


def _thing_example(fake, rng, unanswerable):
    facts = rng.sample(_entity_facts(fake, rng), rng.randint(1, 3))
    sentences = [text() for text, _ in facts]
    if rng.random() < 0.5:
        sentences.insert(rng.randint(0, len(sentences)), rng.choice(FILLERS))
    context = " ".join(sentences)
    if rng.random() < unanswerable:
        other = _entity_facts(fake, rng)
        return _example(rng.choice(rng.choice(other)[1])[0], context, "")
    question, answer = rng.choice(rng.choice(facts)[1])
    return _example(question, context, answer)
