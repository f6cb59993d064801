package main

import (
	"math/rand/v2"
	"strings"
)

// The text of the farm is built from the word lists and sentence patterns
// below: world news as feeds carry it, on many topics, with the watched
// subjects (Libya, Haftar, Wagner, Assad) in a few items and words that
// merely look like them (an ambassador, an opera by Richard Wagner, the
// Haftarah) in others. None of the lists outside the subject sentences may
// contain a word the shipped watchlist matches; farm_test.go checks that
// the share of matching items stays near the target.

// A topic is the vocabulary of one kind of story.
type topic struct {
	name      string   // the feed section and item category
	actors    []string // who acts
	acts      []string // what they did, past tense, with its object
	things    []string // what the story is about, as a noun phrase
	outcomes  []string // what followed, as a clause
	headlines []string // patterns with {place}, {actor}, {thing}, {num}
}

var topics = []topic{
	{
		name: "Politics",
		actors: []string{"the prime minister", "the opposition leader", "the interior minister", "a coalition spokesman",
			"the speaker of parliament", "the president's office", "senior lawmakers", "the electoral commission",
			"the ruling party", "a cabinet minister", "the finance committee", "regional governors"},
		acts: []string{"announced a snap election", "rejected the proposed budget", "called for a confidence vote",
			"unveiled a package of constitutional amendments", "dismissed two senior officials",
			"postponed the local elections", "signed a power-sharing agreement", "opened an inquiry into party funding",
			"defended the new security law", "promised to cut fuel subsidies gradually"},
		things: []string{"the coalition talks", "the draft constitution", "the vote on the budget", "the new cabinet",
			"the referendum campaign", "the reform of the civil service", "the dispute over the electoral roll",
			"the leadership contest"},
		outcomes: []string{"opposition parties walked out of the chamber", "protesters gathered outside the parliament building",
			"the currency slipped against the dollar", "analysts expect a long stalemate", "turnout is likely to be low",
			"several ministers threatened to resign", "the decision must still be approved by the upper house"},
		headlines: []string{"{place} parliament votes on {thing}", "Coalition in {place} wobbles over {thing}",
			"{Actor} faces pressure over {thing}", "Snap election called in {place}", "{place} opposition rallies against {thing}",
			"Cabinet reshuffle in {place} after row over {thing}"},
	},
	{
		name: "Economy",
		actors: []string{"the central bank", "the finance ministry", "economists", "the statistics office",
			"the largest trade union", "the employers' federation", "the national oil company", "bond investors",
			"the IMF mission", "retailers", "the port authority", "the development bank"},
		acts: []string{"raised the benchmark rate by a quarter point", "cut the growth forecast for next year",
			"reported a widening trade deficit", "announced new support for small businesses",
			"agreed a loan of {num} million dollars", "warned that inflation would stay high",
			"lifted the cap on grain exports", "froze public sector wages", "sold bonds worth {num} million euros",
			"published figures showing unemployment at {num} percent"},
		things: []string{"the price of bread", "the rate of inflation", "the sovereign debt", "the fuel shortage",
			"the pension reform", "the minimum wage", "exports of copper", "the housing market", "the tourism season",
			"the harvest"},
		outcomes: []string{"shares in local banks fell sharply", "the currency recovered some of its losses",
			"importers struggled to find hard currency", "shoppers faced longer queues", "the decision surprised markets",
			"the government said it would review the measures in the spring", "farmers blocked roads in protest"},
		headlines: []string{"{place} central bank raises rates again", "Inflation in {place} reaches {num} percent",
			"{place} secures loan to ease {thing}", "Strike over {thing} shuts ports in {place}",
			"{Actor} warns of slowdown", "Investors wary as {place} debt talks drag on"},
	},
	{
		name: "Conflict",
		actors: []string{"the army", "rebel commanders", "the defence ministry", "United Nations monitors",
			"local officials", "a military spokesman", "aid agencies", "the police", "peacekeepers", "residents",
			"community leaders", "the border guard"},
		acts: []string{"reported heavy shelling overnight", "said {num} people were killed in clashes",
			"agreed a temporary ceasefire", "withdrew troops from two villages", "accused the other side of breaking the truce",
			"evacuated civilians from the frontline town", "opened a humanitarian corridor",
			"arrested {num} suspects after an ambush", "closed the main border crossing", "released a group of prisoners"},
		things: []string{"the ceasefire talks", "the siege of the northern town", "the prisoner exchange",
			"the fighting in the border region", "the drone strikes", "the peace agreement", "the displacement crisis",
			"the disarmament plan"},
		outcomes: []string{"thousands of families fled towards the coast", "hospitals ran short of blood and fuel",
			"mediators said talks would resume next week", "the road to the capital remained closed",
			"the death toll is expected to rise", "neither claim could be independently verified",
			"convoys of aid trucks waited at the crossing"},
		headlines: []string{"Clashes in {place} kill {num}", "Ceasefire in {place} holds for a third day",
			"Aid convoy reaches besieged town in {place}", "{Actor} says talks on {thing} stalled",
			"Thousands flee fighting in {place}", "Prisoner swap agreed in {place}"},
	},
	{
		name: "Climate",
		actors: []string{"meteorologists", "the environment minister", "climate scientists", "rescue teams",
			"the water authority", "farmers' groups", "the forestry service", "coastal residents", "insurers",
			"the national weather service"},
		acts: []string{"issued a red alert for the coast", "recorded the hottest month on record",
			"declared a drought emergency in {num} provinces", "evacuated villages near the river",
			"approved a plan to phase out coal by {year}", "warned of more wildfires this week",
			"began rationing water in the capital", "counted {num} homes destroyed by the floods"},
		things: []string{"the heatwave", "the floods", "the drought", "the wildfire season", "sea level rise",
			"the emissions target", "the cyclone", "the melting glaciers"},
		outcomes: []string{"crops withered across the plains", "schools were closed for the rest of the week",
			"firefighters struggled against strong winds", "the river burst its banks in several places",
			"power cuts spread to the suburbs", "experts said such events are becoming more frequent"},
		headlines: []string{"Heatwave grips {place}", "Floods in {place} force {num} from their homes",
			"{place} declares drought emergency", "Wildfires spread across {place}", "{Actor} warns over {thing}",
			"{place} pledges to cut emissions by {year}"},
	},
	{
		name: "Health",
		actors: []string{"the health ministry", "doctors", "the World Health Organization", "nurses' unions",
			"hospital directors", "researchers", "the medicines regulator", "public health officials"},
		acts: []string{"confirmed {num} new cases of cholera", "launched a vaccination campaign",
			"approved a new malaria vaccine", "warned of a shortage of antibiotics", "went on strike over pay",
			"opened {num} new clinics in rural areas", "reported a fall in infant mortality"},
		things: []string{"the cholera outbreak", "the vaccination drive", "the shortage of nurses", "the measles outbreak",
			"hospital waiting lists", "the price of insulin"},
		outcomes: []string{"clinics were overwhelmed in the poorest districts", "the campaign aims to reach every child",
			"patients were turned away from emergency rooms", "the government promised more funding next year"},
		headlines: []string{"Cholera cases rise in {place}", "{place} starts mass vaccination drive",
			"Nurses strike in {place} over {thing}", "{Actor} warns of {thing}"},
	},
	{
		name: "Technology",
		actors: []string{"the telecoms regulator", "a start-up founder", "the competition authority", "engineers",
			"the digital ministry", "security researchers", "the country's largest bank", "chipmakers"},
		acts: []string{"fined a social network {num} million euros", "launched a national satellite",
			"blocked access to a messaging app", "disclosed a data breach affecting {num} customers",
			"announced a factory for electric batteries", "auctioned new mobile frequencies"},
		things: []string{"the data protection law", "the mobile internet shutdown", "the chip shortage",
			"the satellite programme", "online payments", "artificial intelligence rules"},
		outcomes: []string{"users reported outages across the country", "the company said it would appeal",
			"prices for handsets are expected to rise", "the rollout will take two years"},
		headlines: []string{"{place} fines tech firm over {thing}", "Internet outage hits {place}",
			"{place} launches first satellite", "{Actor} unveils plan on {thing}"},
	},
	{
		name: "Sport",
		actors: []string{"the national coach", "the football federation", "the team captain", "the organisers",
			"the defending champions", "the athletics federation", "fans"},
		acts: []string{"named a squad of {num} players", "won the final on penalties", "sacked the manager after a heavy defeat",
			"broke the national record in the marathon", "qualified for the world championships", "was banned for {num} matches"},
		things: []string{"the cup final", "the qualifying campaign", "the marathon", "the transfer window",
			"the new stadium", "the doping case"},
		outcomes: []string{"thousands celebrated in the streets", "the federation promised an investigation",
			"tickets sold out within an hour", "the return leg will be played next month"},
		headlines: []string{"{place} reach the final", "{place} coach resigns after defeat",
			"Record crowd for {thing} in {place}", "{Actor} criticised over {thing}"},
	},
	{
		name: "Culture",
		actors: []string{"the culture ministry", "museum curators", "a celebrated novelist", "the film festival jury",
			"archaeologists", "the national theatre", "the city council"},
		acts: []string{"returned {num} looted artefacts", "awarded the top prize to a debut film",
			"reopened the national museum after restoration", "unearthed a mosaic from the Roman era",
			"cancelled the spring festival", "announced a tour of {num} cities"},
		things: []string{"the restitution of artefacts", "the film festival", "the book fair", "the restoration of the old city",
			"the heritage list", "the new concert hall"},
		outcomes: []string{"visitors queued around the block", "critics praised the decision",
			"the collection will travel abroad next year", "the city hopes to attract more tourists"},
		headlines: []string{"{place} museum reopens", "Looted treasures returned to {place}",
			"Debut film wins top prize in {place}", "{Actor} celebrates {thing}"},
	},
	{
		name: "Migration",
		actors: []string{"the coast guard", "the refugee agency", "border officials", "rescue charities",
			"the interior ministry", "a group of lawmakers", "aid workers"},
		acts: []string{"rescued {num} people from a sinking boat", "opened a new reception centre",
			"tightened checks at the border", "deported {num} people on a charter flight",
			"agreed to share responsibility for new arrivals", "recorded a rise in crossings"},
		things: []string{"the asylum rules", "the sea crossings", "the reception centres", "the deportation flights",
			"the migration pact"},
		outcomes: []string{"charities criticised the conditions in the camps", "the boats were brought to the nearest port",
			"ministers will meet again next month", "arrivals usually rise in the summer"},
		headlines: []string{"Boat capsizes off {place}", "{place} tightens asylum rules",
			"{Actor} warns over {thing}", "Hundreds rescued in the Mediterranean"},
	},
}

// places are where the ordinary stories happen; none is in Libya or Syria.
var places = []string{"Kenya", "Nigeria", "Ghana", "Senegal", "Ethiopia", "Somalia", "Tanzania", "Uganda", "Zambia",
	"Mozambique", "Angola", "Morocco", "Tunisia", "Algeria", "Egypt", "Jordan", "Iraq", "Iran", "Turkey", "Yemen",
	"Oman", "Qatar", "Pakistan", "India", "Bangladesh", "Indonesia", "the Philippines", "Vietnam", "Thailand",
	"Brazil", "Peru", "Chile", "Colombia", "Mexico", "Argentina", "Poland", "Romania", "Hungary", "Greece", "Italy",
	"Spain", "Portugal", "France", "Germany", "Serbia", "Georgia", "Armenia", "Kazakhstan", "Mongolia", "Nepal",
	"Sri Lanka", "Myanmar", "Cambodia", "Haiti", "Cuba", "Bolivia", "Ecuador", "Malawi", "Namibia", "Botswana"}

var cities = []string{"Nairobi", "Lagos", "Accra", "Dakar", "Addis Ababa", "Mogadishu", "Dar es Salaam", "Kampala",
	"Lusaka", "Maputo", "Luanda", "Rabat", "Tunis", "Algiers", "Cairo", "Amman", "Baghdad", "Tehran", "Ankara",
	"Aden", "Muscat", "Doha", "Karachi", "Mumbai", "Dhaka", "Jakarta", "Manila", "Hanoi", "Bangkok", "Brasilia",
	"Lima", "Santiago", "Bogota", "Mexico City", "Buenos Aires", "Warsaw", "Bucharest", "Budapest", "Athens",
	"Rome", "Madrid", "Lisbon", "Paris", "Berlin", "Belgrade", "Tbilisi", "Yerevan", "Almaty", "Geneva", "Brussels"}

var sources = []string{"a government spokeswoman", "two officials who asked not to be named", "local media",
	"a statement from the ministry", "witnesses", "a senior diplomat", "the state news agency", "people familiar with the talks",
	"a regional analyst", "the mayor's office", "a report seen by reporters", "a Western ambassador"}

var days = []string{"on Monday", "on Tuesday", "on Wednesday", "on Thursday", "on Friday", "on Saturday", "on Sunday",
	"late on Tuesday", "early on Friday", "this week", "on Sunday evening", "overnight"}

var connectors = []string{"Meanwhile,", "Separately,", "Earlier,", "In a statement,", "By contrast,", "Last year,",
	"According to officials,", "In recent months,", "At the same time,", "On the ground,"}

var (
	firstNames = []string{"Amina", "Daniel", "Sofia", "Kwame", "Leila", "Marco", "Priya", "Tomasz", "Elena", "Jonah",
		"Fatima", "Lucas", "Mei", "Oluwaseun", "Hannah", "Rafael", "Ines", "Samuel", "Nadia", "Victor", "Grace",
		"Yusuf", "Clara", "Arjun", "Beatriz", "Emeka", "Sara", "Pavel", "Lina", "Oscar"}
	lastNames = []string{"Okafor", "Mendes", "Kowalski", "Haddad", "Nakamura", "Osei", "Ferreira", "Novak", "Rahman",
		"Lindqvist", "Mwangi", "Castillo", "Dubois", "Adeyemi", "Petrov", "Santos", "Keller", "Abdi", "Moreau",
		"Chaudhry", "Brennan", "Ivanova", "Tanaka", "Boateng", "Rossi", "Hussein", "Carvalho", "Stein", "Mensah", "Ortega"}
	outletPlaces = []string{"Northfield", "Riverside", "Eastgate", "Harbourtown", "Highmoor", "Lakeport", "Stonebridge",
		"Westmarch", "Oakhaven", "Bayview", "Redcliff", "Silverton", "Kingsferry", "Marshfield", "Ashford", "Dunmore"}
	outletKinds = []string{"Herald", "Courier", "Dispatch", "Chronicle", "Observer", "Gazette", "Post", "Review",
		"Record", "Monitor", "Journal", "Bulletin", "Standard", "Telegraph", "Express", "Sentinel"}
)

// A subject sentence mentions one of the watched subjects. Each has a
// headline form and sentences for the body.
type subject struct {
	name      string
	headlines []string
	sentences []string
}

var subjects = []subject{
	{
		name: "Libya",
		headlines: []string{"Libya's rival governments trade blame over oil blockade", "Clashes erupt in Tripoli suburbs",
			"Migrant boat sinks off the coast of Libya", "UN envoy urges Libyan leaders to agree on elections",
			"Libya resumes oil exports from eastern ports", "Flooding in Derna leaves thousands homeless"},
		sentences: []string{"Libya has been split between rival administrations in the east and the west for years.",
			"Fighting broke out overnight in the southern suburbs of Tripoli, residents said.",
			"The coast guard of Libya intercepted {num} people trying to cross to Europe.",
			"Oil production in Libya fell to {num} thousand barrels a day after the blockade.",
			"The Libyan foreign ministry summoned the ambassador over the remarks.",
			"The UN mission in Libya said both sides had agreed to meet in {city}."},
	},
	{
		name: "Haftar",
		headlines: []string{"Haftar's forces advance on southern oil fields", "Khalifa Haftar meets Russian defence officials",
			"Haftar visits Cairo for talks on border security"},
		sentences: []string{"Forces loyal to the eastern commander Khalifa Haftar said they had taken control of the airbase.",
			"Haftar's spokesman denied that foreign fighters were involved in the offensive.",
			"Diplomats said Haftar had been invited to the conference in {city} but had not confirmed."},
	},
	{
		name: "Wagner",
		headlines: []string{"Wagner Group fighters leave frontline positions", "Report links Wagner mercenaries to gold mines",
			"Russian mercenaries of the Wagner Group seen at desert airbase"},
		sentences: []string{"Fighters of the Wagner Group, the Russian private military company, were seen near the airbase.",
			"The report accuses Wagner mercenaries of abuses against civilians in several countries.",
			"Satellite images showed cargo planes linked to the Wagner Group landing at night."},
	},
	{
		name: "Assad",
		headlines: []string{"Assad receives Gulf envoy in Damascus", "Syria's Assad issues amnesty decree",
			"Arab League debates ties with Assad government"},
		sentences: []string{"President Bashar al-Assad received the envoy in Damascus, state media reported.",
			"Assad's government has regained control of most of the country with Russian and Iranian help.",
			"Opposition groups said the amnesty announced by Assad would free only a few detainees."},
	},
}

// traps look like the subjects to a careless filter, and must not match.
var traps = []string{
	"A new production of Richard Wagner's Lohengrin opened the opera season to a standing ovation.",
	"The synagogue's reading of the Haftarah was followed by a communal lunch.",
	"The ambassador presented her credentials to the president at a ceremony in the capital.",
	"The conductor chose the overture to Tannhäuser by Wagner, the composer, for the gala.",
	"Assadullah Khan, a shopkeeper in Karachi, said prices had doubled since the spring.",
}

// pick returns a random element of xs.
func pick(r *rand.Rand, xs []string) string { return xs[r.IntN(len(xs))] }

// fill replaces the slots of a pattern.
func fill(r *rand.Rand, pattern string, t *topic) string {
	if !strings.Contains(pattern, "{") {
		return pattern
	}
	var b strings.Builder
	for {
		i := strings.IndexByte(pattern, '{')
		if i < 0 {
			b.WriteString(pattern)
			return b.String()
		}
		j := strings.IndexByte(pattern[i:], '}')
		if j < 0 {
			b.WriteString(pattern)
			return b.String()
		}
		b.WriteString(pattern[:i])
		switch pattern[i+1 : i+j] {
		case "place":
			b.WriteString(pick(r, places))
		case "city":
			b.WriteString(pick(r, cities))
		case "num":
			b.WriteString(number(r))
		case "year":
			b.WriteString([]string{"2030", "2035", "2040", "2050"}[r.IntN(4)])
		case "actor":
			b.WriteString(pick(r, t.actors))
		case "Actor":
			b.WriteString(capitalize(pick(r, t.actors)))
		case "thing":
			b.WriteString(pick(r, t.things))
		}
		pattern = pattern[i+j+1:]
	}
}

func number(r *rand.Rand) string {
	switch r.IntN(4) {
	case 0:
		return []string{"two", "three", "four", "five", "six", "seven", "eight", "nine", "ten", "a dozen"}[r.IntN(10)]
	case 1:
		return itoa(11 + r.IntN(89))
	case 2:
		return itoa(100 + r.IntN(900))
	default:
		return itoa(1+r.IntN(9)) + "," + pad3(r.IntN(1000))
	}
}

func itoa(n int) string {
	if n == 0 {
		return "0"
	}
	var b [20]byte
	i := len(b)
	for n > 0 {
		i--
		b[i] = byte('0' + n%10)
		n /= 10
	}
	return string(b[i:])
}

func pad3(n int) string {
	s := itoa(n)
	for len(s) < 3 {
		s = "0" + s
	}
	return s
}

func capitalize(s string) string {
	if s == "" {
		return s
	}
	return strings.ToUpper(s[:1]) + s[1:]
}

// sentence is one sentence of an ordinary story on t.
func sentence(r *rand.Rand, t *topic) string {
	var s string
	switch r.IntN(7) {
	case 0:
		s = capitalize(pick(r, t.actors)) + " " + pick(r, t.acts) + " " + pick(r, days) + ", " + pick(r, sources) + " said."
	case 1:
		s = capitalize(pick(r, t.actors)) + " said " + pick(r, days) + " that " + pick(r, t.outcomes) + "."
	case 2:
		s = pick(r, connectors) + " " + pick(r, t.actors) + " in " + pick(r, cities) + " " + pick(r, t.acts) + "."
	case 3:
		s = capitalize(pick(r, t.things)) + " has dominated the debate in " + pick(r, places) + ", and " + pick(r, t.outcomes) + "."
	case 4:
		s = "According to " + pick(r, sources) + ", " + pick(r, t.outcomes) + " after " + pick(r, t.actors) + " " + pick(r, t.acts) + "."
	case 5:
		s = "\u201cWe cannot wait any longer,\u201d " + pick(r, firstNames) + " " + pick(r, lastNames) + ", who follows " +
			pick(r, t.things) + " closely, told reporters in " + pick(r, cities) + "."
	default:
		s = capitalize(pick(r, t.outcomes)) + ", while " + pick(r, t.actors) + " " + pick(r, t.acts) + "."
	}
	return fill(r, s, t)
}
