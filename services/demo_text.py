"""Free-text claim descriptions for the synthetic dataset.

Descriptions are assembled from many templates and vocabularies, then roughed
up the way adjuster notes are (abbreviations, typos, shouting, odd order), so
the text carries signal without being a lookup table: words are shared across
scenarios, borderline scenarios mix the vocabularies of two departments and a
share of descriptions says nothing useful at all.
"""
from __future__ import annotations

import random
import re

VOCAB: dict[str, tuple[str, ...]] = {
    "veh": ("vehicle", "car", "auto", "veh", "truck", "SUV", "sedan", "minivan", "pickup", "van"),
    "iv": ("insured vehicle", "IV", "our vehicle", "insd veh", "policyholder's car", "insured's car"),
    "insd": ("insured", "insd", "policyholder", "PH", "named insured", "customer", "our insured"),
    "tp": ("third party", "other driver", "TP", "claimant driver", "OV driver", "other party"),
    "ov": ("other vehicle", "OV", "TP vehicle", "claimant vehicle", "the other car"),
    "ws": ("windshield", "windscreen", "ws", "front glass", "w/s", "windshield glass"),
    "dmg": ("damage", "dmg", "damages", "damage", "dmg"),
    "rear": ("rear-ended", "hit from behind", "struck in the rear", "rear ended", "RE'd"),
    "road": ("intersection", "highway", "I-95", "main st", "freeway on-ramp", "residential street",
             "roundabout", "rt 9", "county road", "school zone", "toll plaza", "4-way stop"),
    "lot": ("parking lot", "grocery store lot", "mall parking", "parking garage", "work lot", "driveway"),
    "bldg": ("building", "bldg", "house", "home", "residence", "dwelling", "property", "unit"),
    "pipe": ("pipe", "supply line", "water line", "pipe under sink", "washing machine hose",
             "water heater", "toilet supply line", "dishwasher hose"),
    "room": ("kitchen", "basement", "bathroom", "living room", "ceiling", "laundry room", "garage",
             "bedroom", "hallway"),
    "storm": ("storm", "windstorm", "severe storm", "thunderstorm", "hail storm", "high winds",
              "tropical storm", "microburst"),
    "roof": ("roof", "shingles", "roof covering", "gutters", "siding", "fence", "chimney", "carport"),
    "inj": ("injury", "inj", "injuries", "injury"),
    "body": ("neck", "back", "shoulder", "knee", "wrist", "lower back", "hand", "ankle", "head", "hip"),
    "ee": ("employee", "EE", "worker", "staff member", "warehouse worker", "nurse", "driver",
           "technician", "cashier", "laborer", "line cook"),
    "work": ("at work", "on the job", "during shift", "while working", "on site", "at the jobsite"),
    "premises": ("store", "restaurant", "supermarket", "office lobby", "hotel", "gym", "salon",
                 "shopping center", "warehouse club"),
    "fall": ("slipped and fell", "tripped and fell", "fell", "slipped", "took a fall"),
    "hosp": ("hospital", "ER", "urgent care", "the ER", "clinic"),
    "water": ("water", "water", "h2o"),
}

# Main clause per scenario: what happened.
MAIN: dict[str, tuple[str, ...]] = {
    "auto_collision": (
        "{insd} {rear} at {road}, {dmg} to rear bumper",
        "{iv} collided with {ov} at {road}",
        "{tp} ran red light and struck {iv}",
        "{insd} backed into pole in {lot}, {dmg} to {veh} rear",
        "two car accident at {road}, front end {dmg}",
        "{veh} sideswiped while changing lanes on {road}",
        "{insd} lost control on wet road and hit guardrail",
        "multi vehicle pileup on {road}, front and rear {dmg} to {veh}",
        "t-bone collision at {road}, passenger side {dmg}",
        "{insd} hit {ov} while merging, no injuries",
        "{veh} slid on ice and hit a curb, wheel and axle {dmg}",
        "{insd} {rear} in stop and go traffic, trunk pushed in",
    ),
    "auto_parked": (
        "{veh} hit while parked at {lot}, no note left",
        "hit and run, parked {veh} on street, driver door {dmg}",
        "came back to find {veh} dented in {lot}",
        "unknown vehicle struck parked {veh} overnight",
        "shopping cart rolled into {veh} in {lot}, dent and scratches",
    ),
    "auto_theft": (
        "{veh} stolen from driveway overnight",
        "break-in, {veh} window smashed and stereo stolen",
        "catalytic converter stolen from {veh}",
        "{veh} vandalized, tires slashed and paint keyed",
        "{veh} theft, recovered stripped two days later",
        "keys stolen at gym and {veh} taken from {lot}",
    ),
    "auto_weather": (
        "hail {dmg} to {veh} hood and roof",
        "tree branch fell on {veh} during {storm}",
        "{veh} flooded in street flooding",
        "hail dents all over {veh}, parked outside",
        "{storm} blew debris into {veh}, panels dented",
    ),
    "auto_animal": (
        "hit a deer on {road}, front end {dmg}",
        "{veh} struck deer at night on {road}",
        "animal collision, grille and headlight broken",
        "swerved to avoid deer and went into ditch",
        "dog ran into road, {veh} bumper {dmg}",
    ),
    "auto_glass": (
        "rock chip in {ws}",
        "{ws} cracked by stone from truck on {road}",
        "crack spreading across {ws}",
        "chip in {ws} needs repair",
        "{ws} replacement needed, long crack",
        "side window shattered, glass only",
        "rear window broken, no other {dmg}",
        "{ws} cracked due to cold",
        "stone chip on driver side of {ws}",
        "{ws} crack from temperature change overnight",
        "{ws} replaced, ADAS camera recalibration needed",
        "gravel hit {ws} on {road}, star break",
    ),
    "auto_glass_body": (
        "{ws} cracked and hood dented by falling debris",
        "rock hit {ws} and chipped paint on hood",
        "side window and door panel {dmg} from break in attempt",
        "{ws} shattered in minor collision, bumper scuffed",
        "ice fell from truck, {ws} broken and roof dented",
        "branch fell on {veh}, {ws} and roof {dmg}",
    ),
    "auto_injury": (
        "{tp} injured when {iv} rear ended them at {road}",
        "pedestrian struck by {iv} in crosswalk",
        "{insd} ran stop sign, {tp} taken to {hosp}",
        "passenger in {ov} complains of {body} pain, {inj} claim",
        "cyclist hit by {iv}, {body} {inj}",
        "{tp} claims whiplash after collision with {iv}",
        "bodily {inj} claim from {tp}, ambulance on scene",
        "{insd} turned left into {ov}, occupants transported to {hosp}",
    ),
    "auto_minor_injury": (
        "fender bender at {road}, {tp} reports sore {body}",
        "low speed collision, {tp} says minor {body} pain",
        "{iv} bumped {ov}, driver complained of stiffness",
        "minor accident in {lot}, passenger bruised",
        "{insd} {rear}, bumper {dmg} and slight {body} pain",
    ),
    "prop_water": (
        "{water} {dmg} from burst {pipe} in {room}",
        "{pipe} leaked, flooring and drywall {dmg}",
        "frozen {pipe} burst, {room} flooded",
        "ceiling stain and {water} leak from upstairs unit",
        "sewer backup in {room}",
        "water heater failed flooding {room}",
        "slow leak behind wall, mold in {room}",
    ),
    "prop_fire": (
        "kitchen fire, smoke {dmg} throughout {bldg}",
        "electrical fire in {room}",
        "fire started in garage, {bldg} partially burned",
        "grease fire on stove, cabinets burned",
        "lightning strike caused fire in attic",
        "smoke {dmg} from neighbour fire",
        "dryer vent fire in laundry room",
    ),
    "prop_storm": (
        "{storm} {dmg} to {roof}",
        "hail {dmg} to {roof} and skylights",
        "tree fell on {bldg} during {storm}",
        "wind blew off part of {roof}, {water} came in",
        "{storm} tore {roof} and broke windows",
        "hail dented {roof}, interior leak in {room}",
    ),
    "prop_theft": (
        "burglary, back door forced, electronics stolen",
        "break in at {bldg}, jewelry taken",
        "shed broken into and tools stolen",
        "package theft and {dmg} to front door",
        "vandalism to {bldg}, graffiti and broken windows",
    ),
    "prop_vehicle": (
        "{veh} crashed into {bldg} front wall",
        "delivery truck backed into garage door",
        "car drove through fence and into porch",
        "{insd} lost control of {veh} and hit own garage",
        "neighbour's {veh} rolled into {bldg}",
        "drunk driver hit {bldg}, wall and {veh} in driveway {dmg}",
    ),
    "prop_visitor": (
        "guest {fall} on icy steps at {bldg}",
        "visitor injured on broken stair at {bldg}",
        "dog bite to neighbour child at {bldg}",
        "delivery driver {fall} on porch, {body} {inj}",
        "tenant injured by falling ceiling in {room}",
    ),
    "gl_slip": (
        "customer {fall} on wet floor in {premises}",
        "patron tripped over mat at {premises}, {body} {inj}",
        "slip and fall in {premises} parking lot",
        "shopper injured by falling display at {premises}",
        "visitor {fall} on ice outside {premises}",
        "guest hurt {body} on broken chair at {premises}",
    ),
    "gl_damage": (
        "contractor {dmg} neighbour's {bldg} during work",
        "product defect caused {water} {dmg} at customer home",
        "crane clipped adjacent {bldg}",
        "client alleges faulty installation caused leak",
        "customer's {veh} {dmg} by falling sign at {premises}",
        "food poisoning complaint from {premises} guests",
    ),
    "wc_injury": (
        "{ee} {fall} {work} and hurt {body}",
        "{ee} strained {body} lifting boxes {work}",
        "{ee} cut hand on machine {work}",
        "{ee} injured {body} {work}, went to {hosp}",
        "forklift struck {ee} in warehouse",
        "{ee} burned by hot oil in kitchen {work}",
        "{ee} fell from ladder {work}",
        "{ee} needle stick {work}",
    ),
    "wc_vehicle": (
        "{ee} injured in {veh} accident while making deliveries",
        "company {veh} {rear}, {ee} driver {body} {inj}",
        "{ee} hurt in crash driving to client site",
        "{ee} hit a deer in company {veh} {work}, {body} pain",
    ),
    "wc_occupational": (
        "{ee} reports repetitive strain in {body}",
        "carpal tunnel claim from {ee}",
        "{ee} hearing loss from noise exposure {work}",
        "gradual onset {body} pain {work}",
    ),
}

# Supporting detail clauses, by family of scenario.
DETAIL: dict[str, tuple[str, ...]] = {
    "auto": (
        "police on scene", "police report filed", "{veh} towed", "drivable", "not drivable",
        "airbags deployed", "estimate at body shop", "photos uploaded via app", "rental requested",
        "{tp} admitted fault", "liability disputed", "dashcam footage available", "no injuries reported",
    ),
    "glass": (
        "mobile repair requested", "{insd} wants OEM glass", "no other {dmg}", "calibration needed",
        "repair vs replace tbd", "glass shop scheduled", "photos uploaded via app",
    ),
    "property": (
        "mitigation company on site", "{insd} staying with family", "contents list to follow",
        "roofer estimate pending", "photos attached", "inspection needed", "mortgage co listed",
        "contractor quote received", "tarp placed on {roof}",
    ),
    "injury": (
        "treating with chiro", "ER visit", "seen at urgent care", "x-rays taken", "PT ongoing",
        "medical bills to follow", "released same day", "{body} brace prescribed",
    ),
    "wc": (
        "supervisor notified", "employer report filed", "off work 3 days", "light duty offered",
        "no lost time", "drug test done", "safety manager reviewing",
    ),
    "liability": (
        "incident report completed", "CCTV requested", "claimant represented", "witness statements taken",
        "demand letter expected",
    ),
}

ADMIN = (
    "called in by {insd}", "FNOL via web", "per agent", "pls contact {insd}", "see photos",
    "{insd} prefers email", "callback requested", "reported via app", "spanish speaker",
)

# Red-flag phrasing: a signal for SIU referral, but legitimate claims use it too.
SUSPICIOUS = (
    "policy recently purchased", "{insd} insists on cash settlement", "prior similar loss reported",
    "no witnesses and no police report", "all occupants treating at same clinic",
    "attorney retained same day", "receipts not available", "loss reported weeks later",
    "owner behind on payments", "inconsistent statements re time of loss",
    "{insd} very familiar with claims process", "repair shop called before {insd}",
)

UNINFORMATIVE = (
    "see notes", "pls review", "claim reported", "FNOL", "customer called", "details to follow",
    "loss reported by agent", "call insd", "new claim", "see attached", "incident reported",
    "damage", "accident", "loss", "per phone call", "n/a", "as discussed", "refer to file",
)

SCENARIO_FAMILY: dict[str, tuple[str, ...]] = {
    "auto_collision": ("auto",), "auto_parked": ("auto",), "auto_theft": ("auto",),
    "auto_weather": ("auto",), "auto_animal": ("auto",), "auto_glass": ("glass",),
    "auto_glass_body": ("glass", "auto"), "auto_injury": ("injury", "auto"),
    "auto_minor_injury": ("auto", "injury"), "prop_water": ("property",), "prop_fire": ("property",),
    "prop_storm": ("property",), "prop_theft": ("property",), "prop_vehicle": ("property", "auto"),
    "prop_visitor": ("liability", "injury"), "gl_slip": ("liability", "injury"),
    "gl_damage": ("liability",), "wc_injury": ("wc", "injury"), "wc_vehicle": ("wc", "auto"),
    "wc_occupational": ("wc",),
}

ABBREVIATIONS = {
    "vehicle": "veh", "windshield": "ws", "damage": "dmg", "damaged": "dmgd", "building": "bldg",
    "injury": "inj", "injured": "inj", "insured": "insd", "employee": "ee", "with": "w/",
    "without": "w/o", "and": "&", "passenger": "pax", "driver": "drvr", "report": "rpt",
    "reported": "rptd", "customer": "cust", "front": "frt", "hospital": "hosp", "intersection": "intxn",
    "replacement": "repl", "repair": "rpr", "contractor": "contr", "approximately": "approx",
}
_ABBREV_RE = re.compile(r"\b(" + "|".join(ABBREVIATIONS) + r")\b")
_SLOT_RE = re.compile(r"\{(\w+)\}")
_SEPARATORS = (". ", "; ", ", ", " - ", ". ", " / ")


class Describer:
    """Writes one description at a time from a seeded ``random.Random`` so a
    block of claims always gets the same text for the same seed."""

    def __init__(self, seed: int):
        self._rng = random.Random(seed)

    def _fill(self, template: str) -> str:
        rng = self._rng
        return _SLOT_RE.sub(lambda m: rng.choice(VOCAB[m.group(1)]), template)

    def describe(self, scenario: str, suspicious: bool, informative: bool) -> str:
        rng = self._rng
        if not informative:
            text = self._fill(rng.choice(UNINFORMATIVE))
            return text.upper() if rng.random() < 0.3 else text
        clauses = [self._fill(rng.choice(MAIN[scenario]))]
        for family in SCENARIO_FAMILY[scenario]:
            if rng.random() < 0.45:
                clauses.append(self._fill(rng.choice(DETAIL[family])))
        if suspicious:
            clauses.append(self._fill(rng.choice(SUSPICIOUS)))
        if rng.random() < 0.25:
            clauses.append(self._fill(rng.choice(ADMIN)))
        # Notes are not always written in the order things happened.
        if len(clauses) > 1 and rng.random() < 0.3:
            rng.shuffle(clauses)
        text = rng.choice(_SEPARATORS).join(clauses)
        return self._rough_up(text)

    def _rough_up(self, text: str) -> str:
        rng = self._rng
        if rng.random() < 0.25:
            text = _ABBREV_RE.sub(lambda m: ABBREVIATIONS[m.group(1)], text)
        if rng.random() < 0.15:
            text = self._typos(text, 1 + int(rng.random() * 3))
        style = rng.random()
        if style < 0.1:
            return text.upper()
        if style < 0.35:
            return text.lower()
        return text[:1].upper() + text[1:]

    def _typos(self, text: str, count: int) -> str:
        """Drop or swap characters inside words, as fast typists do."""
        rng = self._rng
        chars = list(text)
        for _ in range(count):
            if len(chars) < 4:
                break
            i = rng.randrange(1, len(chars) - 2)
            if not (chars[i].isalpha() and chars[i + 1].isalpha()):
                continue
            if rng.random() < 0.5:
                del chars[i]
            else:
                chars[i], chars[i + 1] = chars[i + 1], chars[i]
        return "".join(chars)


# Vocabularies for party identities.
FIRST_NAMES = (
    "James", "Mary", "Robert", "Patricia", "John", "Jennifer", "Michael", "Linda", "David", "Elizabeth",
    "William", "Barbara", "Richard", "Susan", "Joseph", "Jessica", "Thomas", "Sarah", "Carlos", "Karen",
    "Daniel", "Lisa", "Matthew", "Nancy", "Anthony", "Betty", "Mark", "Sandra", "Jose", "Ashley",
    "Kevin", "Emily", "Brian", "Maria", "Luis", "Michelle", "Wei", "Amanda", "Nguyen", "Melissa",
    "Ahmed", "Deborah", "Ryan", "Stephanie", "Jacob", "Rebecca", "Gary", "Laura", "Eric", "Sharon",
    "Jamal", "Aaliyah", "Diego", "Priya", "Omar", "Fatima", "Tyrone", "Keisha", "Ivan", "Olga",
)
LAST_NAMES = (
    "Smith", "Johnson", "Williams", "Brown", "Jones", "Garcia", "Miller", "Davis", "Rodriguez", "Martinez",
    "Hernandez", "Lopez", "Gonzalez", "Wilson", "Anderson", "Thomas", "Taylor", "Moore", "Jackson", "Martin",
    "Lee", "Perez", "Thompson", "White", "Harris", "Sanchez", "Clark", "Ramirez", "Lewis", "Robinson",
    "Walker", "Young", "Allen", "King", "Wright", "Scott", "Torres", "Nguyen", "Hill", "Flores",
    "Green", "Adams", "Nelson", "Baker", "Hall", "Rivera", "Campbell", "Mitchell", "Carter", "Roberts",
    "Patel", "Kim", "Chen", "Singh", "Murphy", "O'Brien", "Kowalski", "Novak", "Cohen", "Russo",
)
STREETS = (
    "MAIN", "OAK", "PINE", "MAPLE", "CEDAR", "ELM", "WASHINGTON", "LAKE", "HILL", "PARK", "WALNUT",
    "SUNSET", "LINCOLN", "JACKSON", "CHURCH", "RIVER", "HIGHLAND", "MILL", "FOREST", "JEFFERSON",
    "CENTER", "SPRING", "RIDGE", "MEADOW", "FRANKLIN", "WILLOW", "CHESTNUT", "BROADWAY", "MADISON", "DOGWOOD",
)
STREET_SUFFIXES = ("ST", "AVE", "RD", "DR", "LN", "CT", "BLVD", "WAY", "PL", "CIR")
CITIES = (
    "SPRINGFIELD", "FRANKLIN", "CLINTON", "MADISON", "GEORGETOWN", "SALEM", "FAIRVIEW", "GREENVILLE",
    "BRISTOL", "ARLINGTON", "ASHLAND", "BURLINGTON", "MANCHESTER", "OXFORD", "MILTON", "NEWPORT",
    "DOVER", "HUDSON", "KINGSTON", "MARION", "LEBANON", "CLAYTON", "RIVERSIDE", "AUBURN",
)
EMAIL_DOMAINS = ("gmail.com", "yahoo.com", "outlook.com", "hotmail.com", "icloud.com", "aol.com", "comcast.net")
SHOP_NAMES = ("AUTO BODY", "COLLISION CENTER", "AUTO GLASS", "GLASS PROS", "BODY WORKS", "CAR CARE", "PAINT & BODY")
CLINIC_NAMES = ("MEDICAL GROUP", "CHIROPRACTIC", "PHYSICAL THERAPY", "URGENT CARE", "ORTHOPEDICS", "HEALTH CENTER")
COMPANY_NAMES = ("LLC", "INC", "LOGISTICS", "CONSTRUCTION", "FOODS", "RETAIL GROUP", "HOSPITALITY", "SERVICES")
BANK_CODES = ("CHAS", "BOFA", "WELL", "CITI", "USBK", "PNCB", "TRUI", "CAPO", "TDBK", "ALLY", "FITB", "HUNT")
VIN_MAKERS = ("1HG", "1FA", "JTD", "WBA", "5YJ", "3VW", "2T1", "KMH", "1G1", "JN1", "4T1", "5NP")
