"""The words of the synthetic fairy tales (grid_dsl.data.synthetic): plain data.

Every string here is a *template*: `{...}` slots are filled when a story is
written, and slots may lead to other templates. The slots:

    {H} {V} {A} {R}   a mention of the hero / villain / helper (aide) / royal:
                      its name or "the" + its noun (a `role` span)
    {H@}              the character's name ("King Otto" for the royal)
    {H*}              its introduction: "a poor miller's son" (a `role` span)
    {H.key}           a phrase from ROLE_WORDS[role][key], e.g. {V.act}
    {X} {X.key}       the same for the character the sentence is about,
                      drawn among the characters of the stage (CAST)
    {Y} {Y.key}       in an utterance: the character spoken to
    {key}             a fact of the story (FACTS) or a phrase from WORDS[key]

What makes the planted structure real is written here: each role has its own
adjectives, verbs and speech (ROLE_WORDS, SPEECH), each stage its own
sentence patterns and vocabulary (STAGE_BEATS, WORDS), while the names
(NAMES) and a few nouns ("old woman", "stranger") are shared by the roles.
"""

ROLES = ("HERO", "VILLAIN", "HELPER", "ROYAL")
STAGES = ("OPENING", "QUEST", "TRIAL", "RESOLUTION")
LETTER_ROLE = {"H": "HERO", "V": "VILLAIN", "A": "HELPER", "R": "ROYAL"}

# Names belong to no role: any name may be the hero of one story and the
# villain of the next, so a name alone never tells the role.
NAMES = {
    "m": ("Hans", "Peter", "Konrad", "Martin", "Otto", "Fritz", "Jakob", "Heinrich", "Wilhelm", "Karl",
          "Ulrich", "Caspar", "Lorenz", "Anton", "Bruno", "Felix", "Gustav", "Matthias", "Rudolf", "Emil"),
    "f": ("Gretel", "Elsa", "Rosa", "Liese", "Marlene", "Greta", "Bertha", "Hilde", "Agnes", "Clara",
          "Ida", "Frieda", "Jorinde", "Maren", "Anna", "Lotte", "Sophie", "Martha", "Ilse", "Dora"),
}

# The nouns a character is called by, per role and gender. "old woman",
# "old man" and "stranger" belong to two roles on purpose.
NOUNS = {
    "HERO": {"m": ("youngest son", "miller's son", "shepherd boy", "young tailor", "woodcutter's son",
                   "soldier", "fisherman's son", "simpleton"),
             "f": ("youngest daughter", "miller's daughter", "goose girl", "shepherdess",
                   "woodcutter's daughter", "orphan girl", "weaver's daughter")},
    "VILLAIN": {"m": ("sorcerer", "giant", "wolf", "troll", "stranger", "robber chief", "old man"),
                "f": ("witch", "sorceress", "old woman", "stepmother", "ogress")},
    "HELPER": {"m": ("dwarf", "fox", "little man", "hermit", "raven", "old man", "stranger"),
               "f": ("fairy", "old woman", "white dove", "wise woman", "little bird")},
    "ROYAL": {"m": ("king", "old king"), "f": ("queen", "old queen")},
}
ROYAL_TITLE = {"m": "King", "f": "Queen"}

ROLE_WORDS = {
    "HERO": {
        "adj": ("brave", "poor", "kind", "young", "cheerful", "good-hearted", "modest", "faithful"),
        "act": ("did not lose heart", "thought of home and walked on", "shared the last crust of bread",
                "whistled a little song", "set to work at once", "kept the promise",
                "stood up straight and took courage", "smiled and went on"),
        "feel": ("was brave but weary", "was hungry but did not complain", "felt a little afraid, yet went on",
                 "was full of hope"),
        "move": ("walked", "wandered", "trudged", "went on foot"),
        "say": ("said", "answered", "replied", "cried"),
    },
    "VILLAIN": {
        "adj": ("wicked", "cruel", "cunning", "greedy", "grim", "spiteful", "jealous", "terrible"),
        "act": ("laughed a cold laugh", "crept closer in the dark", "gnashed with rage", "lay in wait",
                "muttered a dark spell", "grinned wickedly", "stamped and howled",
                "counted the stolen gold"),
        "feel": ("was full of spite", "burned with envy", "was hungry for gold", "hated all that was good"),
        "move": ("crept", "slunk", "prowled", "stole"),
        "say": ("snarled", "hissed", "cackled", "growled", "sneered"),
        "rage": ("turned green with rage", "stamped so hard that the floor shook", "howled like the wind",
                 "screamed and tore at the air"),
    },
    "HELPER": {
        "adj": ("little", "wise", "gentle", "grey", "ancient", "kindly", "tiny", "patient"),
        "act": ("nodded wisely", "appeared as if from nowhere", "smiled a gentle smile",
                "hopped down from the branch", "shook the grey head slowly", "vanished into the mist",
                "sang a strange soft song", "looked on with kindly eyes"),
        "feel": ("knew many secrets", "remembered every kindness", "was older than the hills",
                 "saw what others could not see"),
        "move": ("hopped", "fluttered", "hobbled", "glided"),
        "say": ("whispered", "murmured", "said softly", "advised"),
    },
    "ROYAL": {
        "adj": ("proud", "mighty", "sorrowful", "noble", "rich", "old", "stern", "gracious"),
        "act": ("sat upon the golden throne", "wept day and night", "summoned the whole court",
                "sighed deeply", "sent messengers through all the land", "paced the great hall",
                "wore the heavy crown", "gave orders to the guards"),
        "feel": ("was sick with grief", "ruled wisely but sadly", "could find no rest", "trusted no one"),
        "move": ("strode", "rode", "came down the marble stairs", "walked in state"),
        "say": ("declared", "proclaimed", "commanded", "said gravely"),
    },
}

# The characters a stage is about: {X} is drawn among them.
CAST = {"OPENING": "HR", "QUEST": "HA", "TRIAL": "HVA", "RESOLUTION": "HR"}

# What the characters say, per role and per beat of the story. Each role
# talks its own way: the hero politely, the villain in threats, the helper
# in riddles and advice, the royal in decrees.
SPEECH = {
    "HERO": {
        "volunteer": ("I will go and bring back {prize}.", "Let me try, I am not afraid.",
                      "I have nothing to lose, so I will go.", "Please let me go, and I will do my best."),
        "greet": ("Good day to you.", "Good day, and may I rest here a while?", "Excuse me, can you tell me the way?"),
        "answer": ("I am looking for {prize}.", "I must find {prize}, or the kingdom is lost.",
                   "I am going to {place}, though I do not know the way.", "I seek {prize}, and I will not turn back."),
        "thank": ("Thank you with all my heart.", "Thank you, I will not forget it.",
                  "How kind you are; I will do just as you say."),
        "defy": ("I am not afraid of you.", "I have come for {prize}, and I will not leave without it.",
                 "Do your worst, {Y@}; I will not run away.", "I will try, whatever happens."),
        "humble": ("I only did what was right.", "I could not have done it alone.",
                   "I ask for nothing but to go home.", "Thank you, but the thanks belong to {A}."),
    },
    "VILLAIN": {
        "threaten": ("Ha! Who dares to come here?", "You shall never leave this place!",
                     "Fool! {prize} is mine, and mine it shall stay!", "Turn back, or I will eat you up!",
                     "Ha, ha! Another fool for my pot!"),
        "task": ("Do it before morning, or you are mine!", "Do it by sunrise, or you shall die!",
                 "Fail, and you will never see your home again!", "Ha! Not even a hundred men could do it!"),
        "defeated": ("No! No! It cannot be!", "Curse you! Curse you and your luck!", "Ah! Who told you my secret?",
                     "You shall pay for this, {Y@}!"),
    },
    "HELPER": {
        "ask": ("Where are you going, my child?", "Why so sad, my child?",
                "Share your bread with me, and I will help you.", "What brings you so deep into the forest?"),
        "advise": ("Keep {gift} well hidden, my child.", "When you are in need, {gift} will help you.",
                   "Remember, never eat or drink in that house.", "Do not be afraid; {gift} will show you the way.",
                   "Listen well, {Y@}: speak to no one on the road."),
        "warn": ("Quick, use {gift} now!", "Remember what I told you, my child.", "Do not look back, my child!",
                 "Now is the time, {Y@}, do not be afraid."),
    },
    "ROYAL": {
        "proclaim": ("Whoever brings back {prize} shall have half of my kingdom.",
                     "Hear me! Whoever brings back {prize} shall be richly rewarded.",
                     "We command that every brave soul in the land search for {prize}.",
                     "Whoever finds {prize} shall sit beside us at our table."),
        "reward": ("You have saved our kingdom, {Y@}; half of it shall be yours.",
                   "We thank you, {Y@}, and you shall be rewarded as we promised.",
                   "Hear me, all of you! {Y@} shall be honoured above all others.",
                   "Let a great feast be prepared, for {prize} is ours again."),
    },
}

# The facts of one story, drawn once: (trouble, prize) pairs, places, gifts,
# tasks and rewards.
TROUBLES = (
    ("the princess had been carried off and no one knew where", "the princess"),
    ("a golden bird that sang in the garden had been stolen", "the golden bird"),
    ("{R} lay sick, and only the water of life could bring health again", "the water of life"),
    ("the crown of the kingdom had vanished in the night", "the lost crown"),
    ("a spell had turned the young prince into stone", "the flower that breaks all spells"),
    ("a golden apple had been stolen from the tree in the castle garden", "the golden apple"),
)
FACTS = {
    "place": ("a dark tower in the middle of the forest", "a castle made of glass",
              "a cave deep under the mountain", "a little house made of bread and cake", "a mill beside a black lake",
              "a castle at the end of the world"),
    "gift": (("a little golden key", "the golden key"), ("a silver whistle", "the silver whistle"),
             ("a cloak that made its wearer invisible", "the cloak"), ("three hazelnuts", "the hazelnuts"),
             ("a magic ring", "the ring"), ("a ball of thread that rolled ahead by itself", "the ball of thread")),
    "task": ("sort a sack of lentils from the ashes", "empty the pond with a spoon", "cut down the whole forest",
             "spin a room full of straw into gold", "find a ring lost at the bottom of the sea",
             "answer three riddles", "guard the white horses all night", "carry water in a sieve"),
    "reward": ("half of the kingdom", "a chest full of gold", "a fine house and a garden",
               "the finest horse in the land"),
}

# Phrases that belong to one stage.
WORDS = {
    "once": ("Once upon a time", "Long ago, when wishing still helped", "In olden times", "Many years ago",
             "In a land far away"),
    "had": ("ruled over a great kingdom beyond the hills", "had a daughter more beautiful than the sun",
            "had a garden with a tree that bore golden apples", "lived in a castle with a hundred windows"),
    "home": ("In a village not far from the castle", "At the edge of the kingdom", "In a little hut by the forest",
             "Down in the valley"),
    "lot": ("had nothing in the world but an old coat", "worked from morning till night", "was laughed at by everyone",
            "had two elder brothers who were proud and idle"),
    "news": ("When {H} heard of it,", "The news spread through the land, and", "Soon everyone was talking of it, and"),
    "when": ("at dawn", "early the next morning", "with a crust of bread in the pocket", "the very same day"),
    "road": ("through a deep, dark forest", "over hill and dale", "along a winding road", "across a wide river",
             "for seven days and seven nights", "until the shoes were worn through"),
    "tired": ("The path grew narrow and the trees grew tall.", "Night fell, and the wind began to howl.",
              "The road seemed to have no end.", "The birds stopped singing, and it grew cold."),
    "meet": ("At the edge of the forest", "Beside an old well", "Under a great oak tree", "At a crossroads"),
    "arrive": ("At last {H} came to {place}.", "After a long time {H} reached {place}.",
               "At the end of the road stood {place}."),
    "dread": ("The door creaked, and a cold wind blew out.", "Bones lay all around the door.",
              "No bird sang there, and no flower grew.", "Black smoke rose from the chimney."),
    "night": ("All night long", "Until the moon went down", "Hour after hour", "Before the cock crowed"),
    "joy": ("All the bells in the kingdom rang.", "The people danced in the streets.",
            "There was great joy throughout the land.", "The whole court rejoiced."),
    "end": ("and they lived happily ever after.", "and they lived happily until the end of their days.",
            "and if they have not died, they are living still.", "and there was never a happier kingdom."),
}

# The title of a story (upper-cased when written).
TITLES = ("{prize}", "{H@} and {V!}", "{gift}", "{V!} and {gift}", "{H@} and {prize}")

# The grammar of a story: each stage is a list of paragraphs, each paragraph
# a list of beats; a beat is a list of alternatives, each a list of
# sentences. A sentence is a template, or ("say", SPEAKER, LISTENER, BEAT)
# for a line of dialogue. A paragraph marked OPTIONAL is left out at random.
OPTIONAL = "optional"
GENERIC = (  # sentences about any character of the stage: only the words tell the role
    ["{X} {X.act}."], ["{X} {X.feel}."], ["Then {X} {X.act}."], ["For a while {X} {X.act}."], ["{X^} {X.act}."],
)
STAGE_BEATS = {
    "OPENING": [
        [[["{once}, there was {R*} who {had}."], ["{once}, {R*} {had}."]],
         [["But {trouble}."], ["Then one day {trouble}."]],
         [["{R} {R.act}, for {R} {R.feel}."], ["{R} {R.act}."]],
         [[("say", "R", "H", "proclaim")], []]],
        [[["{home} lived {H*} called {H@}."], ["{home} there lived {H*} named {H@}."]],
         [["{H@} {lot}, but {H} {H.feel}."], ["{H@} {lot}."]],
         GENERIC,
         [["{news} {H} {H.act}."], ["{news} {H@} {H.act}."]],
         [[("say", "H", "R", "volunteer")], []]],
    ],
    "QUEST": [
        [[["So {H} set out {when}."], ["{H} set out {when}."]],
         [["{H} {H.move} {road}."], ["{H} {H.move} {road}, and {H} {H.act}."]],
         [["{tired}"]]],
        [[["{meet} sat {A*} called {A@}."], ["{meet} {H} met {A*} named {A@}."],
          ["{meet}, out of nowhere, came {A*} called {A@}."]],
         [["{A} {A.act}."], ["{A^} {A.act}."]],
         [[("say", "A", "H", "ask"), ("say", "H", "A", "greet")],
          [("say", "H", "A", "greet"), ("say", "A", "H", "ask")]],
         [[("say", "H", "A", "answer")]]],
        [[["Then {A} gave {H} {a_gift}."], ["And {A} gave {H} {a_gift}."]],
         [[("say", "A", "H", "advise")], [("say", "A", "H", "advise"), ("say", "H", "A", "thank")]]],
        [OPTIONAL,
         [["{H} {H.move} on {road}."], ["{H} thanked {A} and {H.move} on {road}."]],
         GENERIC,
         [["{tired}"], []]],
    ],
    "TRIAL": [
        [[["{arrive}"]],
         [["{dread}"], []],
         [["There lived {V*} called {V@}."], ["It was the home of {V*} named {V@}."]],
         [["{V} {V.act}, for {V} {V.feel}."], ["{V} {V.act}."]],
         [[("say", "V", "H", "threaten"), ("say", "H", "V", "defy")], [("say", "V", "H", "threaten")]]],
        [[["{V} set {H} a task: to {task}."], ["Then {V} ordered {H} to {task}."]],
         [[("say", "V", "H", "task")]],
         [["{H} {H.act}, but it was no use."], ["{H} tried and tried, but it could not be done."]],
         [["{night} {H} sat and wept."], ["{H} {H.feel}."]],
         [["Then {H} remembered the words of {A} and took out {gift}."], ["Then {A} came, as if by magic."]],
         [[("say", "A", "H", "warn")], []],
         [["{night} {A} worked, and the task was done."], ["And in the morning the task was done."]],
         GENERIC],
        [OPTIONAL,
         [["{V} was furious, and set a second task: to {task2}."], ["{V} {V.act}, and ordered {H} to {task2}."]],
         [["But with the help of {gift} it was done in a moment."], ["But {A} {A.act}, and it was done."]]],
        [[["At this {V} {V.rage}."], ["When {V} saw it, {V} {V.rage}."]],
         [[("say", "V", "H", "defeated")]],
         [["Then {V} burst into a thousand pieces."], ["{V} ran off into the forest and was never seen again."],
          ["{V} fell into the black lake and sank like a stone."]],
         [["{H} took {prize} and {H.act}."], ["So {H} found {prize}."]]],
    ],
    "RESOLUTION": [
        [[["{H} went home with {prize}."], ["{H} {H.move} home with {prize}."]],
         [["{joy}"]],
         [["{R} {R.act}."], ["{R^} came out to meet {H}."]]],
        [[[("say", "R", "H", "reward")], [("say", "R", "H", "reward"), ("say", "H", "R", "humble")]],
         [["And {H} was given {reward}."], ["{R} gave {H} {reward}."]],
         GENERIC],
        [[["A great feast was held, {end}"], ["{H} was married soon after, {end}"],
          ["So the wedding was held, {end}"]]],
    ],
}
