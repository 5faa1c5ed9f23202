"""Example sentences for the 27 GoEmotions emotions and neutral, in varied everyday wording.

Each label has its own cue phrases (how people say they feel it) and the situations that
cause it; sentences put them in many frames (first person, about someone else, messages,
reviews, with and without a reason, short and long). Names and places come from `faker`.
The held-out set (`heldout/emotion_everyday.json`) is written by hand, not by this module.
"""

import random

from faker import Faker

#: GoEmotions' labels (27 emotions and neutral), in its order.
LABELS = ("admiration", "amusement", "anger", "annoyance", "approval", "caring", "confusion", "curiosity", "desire",
          "disappointment", "disapproval", "disgust", "embarrassment", "excitement", "fear", "gratitude", "grief",
          "joy", "love", "nervousness", "optimism", "pride", "realization", "relief", "remorse", "sadness",
          "surprise", "neutral")

#: label -> (standalone sentences or exclamations, "I feel ..." completions, situations that bring it on)
CUES = {
    "admiration": (["What an amazing performance!", "She is truly brilliant.", "That was beautifully done.",
                    "Hats off to the whole team.", "Your work is outstanding.", "He is such an inspiration."],
                   ["really impressed by", "in awe of", "full of admiration for", "blown away by how good"],
                   ["the way she handled the crisis", "his patience with the kids", "the new bridge design",
                    "how hard the nurses work", "the painting in the hall"]),
    "amusement": (["Haha, that's hilarious!", "I can't stop laughing.", "lol that is so funny", "That cracked me up.",
                   "Best joke I've heard all week.", "I nearly spat out my coffee laughing."],
                  ["so amused by", "laughing at", "cracking up over", "giggling about"],
                  ["the cat falling off the sofa", "my dad's terrible puns", "that video of the goat",
                   "the typo in the headline", "the kids' silly dance"]),
    "anger": (["I am absolutely furious.", "This makes my blood boil!", "I'm so angry I could scream.",
               "How dare they do this to us!", "I am livid right now.", "This is outrageous and I'm fuming."],
              ["furious about", "really angry about", "livid about", "enraged by"],
              ["the landlord keeping our deposit", "being lied to again", "them cancelling without telling us",
               "the driver who nearly hit my son", "how they treated my mother"]),
    "annoyance": (["Ugh, this again.", "So annoying.", "Can they please stop that noise?", "Seriously, every single time.",
                   "This is getting on my nerves.", "The app keeps logging me out, so irritating."],
                  ["annoyed by", "irritated by", "fed up with", "tired of"],
                  ["the neighbour's dog barking all night", "the constant adverts", "waiting on hold for an hour",
                   "people talking in the cinema", "the printer jamming"]),
    "approval": (["Good call.", "I agree with this decision.", "Yes, that makes sense to me.", "Fair enough, well done.",
                  "That's the right thing to do.", "I support this completely."],
                 ["in favour of", "happy to support", "fully on board with", "all for"],
                 ["the new recycling scheme", "lowering the speed limit", "the plan to open a library",
                  "giving staff more holiday", "the council's decision"]),
    "caring": (["Take care of yourself, okay?", "Let me know if you need anything.", "I hope you feel better soon.",
                "Are you alright? I'm here for you.", "Get some rest and drink plenty of water.",
                "Don't worry, I'll look after the kids tonight."],
               ["worried about how", "thinking of", "here for", "looking out for"],
               ["you are coping after the operation", "my grandmother living alone", "the new student",
                "my friend after her breakup", "the neighbours during the storm"]),
    "confusion": (["Wait, what does that even mean?", "I'm so confused.", "I don't understand these instructions.",
                   "Huh? That makes no sense.", "I'm lost, can someone explain?", "Which form am I supposed to fill in?"],
                  ["confused by", "puzzled by", "baffled by", "lost with"],
                  ["the new tax rules", "the ending of the film", "the bus timetable", "this contract",
                   "the way the game is scored"]),
    "curiosity": (["I wonder how they did that.", "What happens next?", "How does this actually work?",
                   "Does anyone know why the sky goes red at sunset?", "I'd love to know more about this.",
                   "Where did you find that?"],
                  ["curious about", "intrigued by", "keen to find out about", "wondering about"],
                  ["how bees find their way home", "what's inside the old house", "the history of our street",
                   "how the magic trick works", "why the shop closed"]),
    "desire": (["I really want one of those.", "I wish I could go too.", "I'd give anything for a holiday right now.",
                "I want that job so badly.", "If only I could afford that car.", "I'm dying to try that restaurant."],
               ["longing for", "desperate for", "craving", "dreaming of"],
               ["a week on a quiet beach", "a slice of chocolate cake", "a house with a garden",
                "a new bike", "some time to myself"]),
    "disappointment": (["What a letdown.", "I expected so much more.", "That was really disappointing.",
                        "I'm gutted it didn't work out.", "Such a shame, it was not what I hoped for.",
                        "The sequel was a big disappointment."],
                       ["disappointed with", "let down by", "gutted about", "underwhelmed by"],
                       ["the final episode", "my exam results", "the hotel room", "the cancelled concert",
                        "how the meal turned out"]),
    "disapproval": (["I don't think that's right.", "This is a bad idea.", "I can't support this.",
                     "That's not how you treat people.", "I disagree with this decision.", "They shouldn't have done that."],
                    ["against", "opposed to", "not okay with", "unhappy with the idea of"],
                    ["cutting the library's hours", "building on the park", "raising the bus fares",
                     "the new parking rules", "letting him off so easily"]),
    "disgust": (["Ew, that's disgusting.", "Gross!", "That smell is revolting.", "I feel sick just looking at it.",
                 "Yuck, there's mould in the fridge.", "That's vile."],
                ["disgusted by", "sickened by", "revolted by", "grossed out by"],
                ["the state of the toilets", "the rotten food in the bin", "the way he chews",
                 "what they did to those animals", "the rubbish on the beach"]),
    "embarrassment": (["That was so embarrassing.", "I wanted the ground to swallow me up.", "My face went bright red.",
                       "I can't believe I said that out loud.", "How awkward.", "I tripped in front of everyone."],
                      ["embarrassed about", "so awkward about", "mortified by", "ashamed of how silly I looked"],
                      ["calling my teacher mum", "singing the wrong words", "forgetting her name",
                       "my phone ringing in the meeting", "spilling soup on my shirt"]),
    "excitement": (["I can't wait!", "This is going to be amazing!", "Woohoo, we're going!", "I'm so excited!",
                    "Only two more days!", "I'm buzzing about tomorrow."],
                   ["so excited about", "thrilled about", "buzzing about", "counting the days until"],
                   ["the trip to Japan", "the new puppy", "the concert on Friday", "starting my new job",
                    "the wedding"]),
    "fear": (["I'm terrified.", "That scared me half to death.", "I'm really frightened.", "Please don't leave me alone here.",
              "My heart was pounding with fear.", "I'm afraid something bad will happen."],
             ["scared of", "terrified of", "afraid of", "frightened by"],
             ["the dark forest", "the noises downstairs", "flying in a storm", "the big dog next door",
              "losing my job"]),
    "gratitude": (["Thank you so much!", "Thanks a lot for your help.", "I really appreciate it.", "Many thanks!",
                   "I'm so grateful, thank you.", "Cheers for sorting that out."],
                  ["grateful for", "thankful for", "so appreciative of", "indebted to you for"],
                  ["your help with the move", "the lovely flowers", "the nurses' care", "the lift home",
                   "everything you did"]),
    "grief": (["I miss her every day.", "He passed away last night.", "We lost our dog this morning.",
               "I still can't believe she's gone.", "Rest in peace, grandad.", "The funeral is on Friday."],
              ["grieving for", "heartbroken over the death of", "mourning", "still grieving the loss of"],
              ["my grandmother", "our old cat", "my best friend", "my father", "a dear colleague"]),
    "joy": (["I'm so happy!", "What a wonderful day!", "This made my day.", "I feel fantastic.",
             "Life is good right now.", "We had the best time."],
            ["so happy about", "delighted with", "overjoyed about", "over the moon about"],
            ["the sunny weekend", "seeing my family again", "the good news", "our garden in bloom",
             "the surprise party"]),
    "love": (["I love you so much.", "I adore this song.", "I love my little brother to bits.", "You mean the world to me.",
              "I absolutely love this place.", "My heart is full when I'm with them."],
             ["in love with", "crazy about", "devoted to", "head over heels for"],
             ["my wife", "this little town", "our dog", "my grandchildren", "old black and white films"]),
    "nervousness": (["I'm so nervous.", "My hands are shaking.", "I have butterflies in my stomach.",
                     "I couldn't sleep, I'm on edge.", "What if I mess it up?", "I'm anxious about tomorrow."],
                    ["nervous about", "anxious about", "jittery about", "on edge about"],
                    ["the job interview", "my driving test", "giving the speech", "meeting her parents",
                     "the results"]),
    "optimism": (["Things will get better.", "I'm sure it will work out.", "Tomorrow is a new day.",
                  "I have a good feeling about this.", "We'll get through this together.", "The future looks bright."],
                 ["hopeful about", "optimistic about", "positive about", "confident about"],
                 ["the new season", "finding a job soon", "her recovery", "the town's future", "the next harvest"]),
    "pride": (["I'm so proud of you!", "We did it, and we did it well.", "Look what I built!", "My son graduated today!",
               "I finally finished the marathon.", "Proud of this team."],
              ["proud of", "so proud of", "chuffed with", "beaming about"],
              ["my daughter's exam results", "what we achieved", "the garden I planted", "our little shop",
               "finishing my degree"]),
    "realization": (["Oh, now I get it.", "I just realised I left the oven on.", "It suddenly hit me.",
                     "Wait, so that's why it wasn't working.", "Ah, I see what you mean now.",
                     "Only now did I understand what she meant."],
                    ["suddenly aware of", "only now realising", "finally understanding", "just noticing"],
                    ["how much time has passed", "that the shop was closed on Sundays", "what the sign meant",
                     "that I had the wrong date", "why he was upset"]),
    "relief": (["Phew, that was close.", "What a relief!", "Thank goodness it's over.", "I can finally breathe again.",
                "The test came back negative, phew.", "At last, we found the keys."],
               ["relieved about", "so relieved that", "glad it is over:", "breathing easier about"],
               ["the operation went well", "the flight landed safely", "the exams are finished",
                "the dog came home", "the results were fine"]),
    "remorse": (["I'm so sorry.", "I regret what I said.", "I shouldn't have done that, I apologise.",
                 "It was my fault and I feel terrible.", "Please forgive me.", "I wish I could take it back."],
                ["sorry about", "full of regret about", "guilty about", "ashamed of"],
                ["shouting at you", "missing your birthday", "breaking the vase", "forgetting to call",
                 "what I said yesterday"]),
    "sadness": (["I feel so down today.", "This makes me really sad.", "I've been crying all morning.",
                 "Everything feels grey lately.", "I'm heartbroken.", "I feel lonely."],
                ["sad about", "upset about", "down about", "heartbroken about"],
                ["moving away from my friends", "the end of summer", "the news from home", "our old house being sold",
                 "not being invited"]),
    "surprise": (["Wow, I did not expect that!", "No way!", "What a surprise!", "I'm shocked.",
                  "Really? I had no idea.", "That came out of nowhere."],
                 ["surprised by", "shocked by", "astonished by", "taken aback by"],
                 ["the sudden snow", "how cheap it was", "the twist at the end", "seeing him there",
                  "the size of the crowd"]),
    "neutral": (["The meeting is at three.", "I'll be home around six.", "The train leaves from platform two.",
                 "Please send the report by Friday.", "The shop opens at nine.", "We need milk and bread."],
                ["going to", "planning to look at", "about to check", "scheduled to discuss"],
                ["the budget on Monday", "the new timetable", "the results next week", "the files",
                 "the delivery"]),
}

#: label -> how the label sounds in a sentence: the head starts as a zero-shot classifier on these.
DESCRIPTIONS = {
    "admiration": "I admire them, that was impressive and brilliant.",
    "amusement": "That is funny, it made me laugh.",
    "anger": "I am angry and furious about this.",
    "annoyance": "This is annoying and irritating, I am fed up.",
    "approval": "I agree, that is a good idea and I approve.",
    "caring": "I care about you, take care and let me help.",
    "confusion": "I am confused, I do not understand this.",
    "curiosity": "I am curious and want to know how or why.",
    "desire": "I want this and wish I could have it.",
    "disappointment": "I am disappointed, it was a letdown.",
    "disapproval": "I disapprove, that is wrong and a bad idea.",
    "disgust": "That is disgusting and gross.",
    "embarrassment": "I am embarrassed, that was awkward.",
    "excitement": "I am excited and can't wait!",
    "fear": "I am scared and afraid.",
    "gratitude": "Thank you, I am grateful.",
    "grief": "Someone died and I am grieving the loss.",
    "joy": "I am happy and joyful.",
    "love": "I love them so much.",
    "nervousness": "I am nervous and anxious.",
    "optimism": "I am hopeful that things will get better.",
    "pride": "I am proud of what was achieved.",
    "realization": "I just realised and now I understand.",
    "relief": "What a relief, I am relieved.",
    "remorse": "I am sorry and regret what I did.",
    "sadness": "I am sad and unhappy.",
    "surprise": "I am surprised, I did not expect that.",
    "neutral": "A plain statement of fact.",
}

FRAMES = [
    "I'm {cue} {situation}.", "Honestly, I am {cue} {situation}.", "I feel {cue} {situation}.",
    "{name} says she is {cue} {situation}.", "{name} told me he was {cue} {situation}.",
    "We are all {cue} {situation}.", "My mum is {cue} {situation}.", "Everyone in {city} is {cue} {situation}.",
    "Still {cue} {situation}.", "To be honest I'm {cue} {situation}, {name}.",
]


def emotion_examples(seed, per_label=120):
    """`(text, label)` pairs, `per_label` of each GoEmotions label, shuffled."""
    rng = random.Random(seed)
    fake = Faker(["en_US", "en_GB", "en_AU", "en_IE"])
    Faker.seed(rng.randrange(2**31))
    examples = []
    for label, (sayings, cues, situations) in CUES.items():
        for _ in range(per_label):
            roll = rng.random()
            if roll < 0.3:
                text = rng.choice(sayings)
                if rng.random() < 0.4:
                    text = rng.choice([f"{fake.first_name()}, {text[0].lower()}{text[1:]}", f"{text} {rng.choice(sayings)}",
                                       f"{text} It's about {rng.choice(situations)}."])
            else:
                frame = rng.choice(FRAMES if label != "neutral" else ["{name} is {cue} {situation}.",
                                                                        "We are {cue} {situation}.",
                                                                        "I'm {cue} {situation} at {city}."])
                text = frame.format(cue=rng.choice(cues), situation=rng.choice(situations), name=fake.first_name(),
                                    city=fake.city())
                if rng.random() < 0.25 and label != "neutral":
                    text += " " + rng.choice(sayings)
            examples.append((text, label))
    rng.shuffle(examples)
    return examples
