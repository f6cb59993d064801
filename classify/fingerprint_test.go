package classify

import (
	"strings"
	"testing"
)

const wireBody = `Russia is working with Syrian President Bashar al-Assad to move militia fighters and military
equipment to Libya to bolster eastern commander Khalifa Haftar, US officials said on Thursday. The officials told
reporters the transfers were meant to shore up Haftar's forces after a run of setbacks around Tripoli, where
contractors of the Russian Wagner Group have been fighting on his side. Moscow did not immediately respond to a
request for comment.`

func sim(t *testing.T, t1, b1, t2, b2 string) float64 {
	t.Helper()
	a, ok1 := Fingerprint(t1, b1)
	b, ok2 := Fingerprint(t2, b2)
	if !ok1 || !ok2 {
		t.Fatal("no fingerprint")
	}
	return Similarity(&a, &b)
}

func TestFingerprintFindsCopies(t *testing.T) {
	t.Parallel()
	title := "US says Russia working with Syria's Assad to move militia fighters to Libya"
	copies := map[string]struct {
		title, body string
		min         float64
	}{
		"outlet suffix":  {title + " | Northgate News", wireBody, 0.8},
		"update prefix":  {"UPDATE 1-" + title, wireBody, 0.8},
		"synonym":        {strings.Replace(title, "move", "send", 1), wireBody, 0.75},
		"wire credit":    {title, "WASHINGTON (Meridian) - " + wireBody, 0.8},
		"trimmed body":   {title, wireBody[:len(wireBody)*2/3], 0.5},
		"reflowed, HTML": {title, strings.ReplaceAll(wireBody, "\n", " "), 0.95},
	}
	for name, c := range copies {
		if s := sim(t, title, wireBody, c.title, c.body); s < c.min {
			t.Errorf("%s: similarity %.2f, want at least %.2f", name, s, c.min)
		}
	}
	other := `The Libyan National Oil Corporation said on Monday that output had fallen below 100,000 barrels a day
after forces loyal to Khalifa Haftar closed export terminals in the east, costing the country billions of dollars.`
	if s := sim(t, title, wireBody, "Libya's oil output sinks amid blockade", other); s > 0.1 {
		t.Errorf("different stories on the same subject: similarity %.2f", s)
	}
}

func TestBandsOfCopiesCollide(t *testing.T) {
	t.Parallel()
	a, _ := Fingerprint("US says Russia working with Assad", wireBody)
	b, _ := Fingerprint("UPDATE 2-US says Russia working with Assad", wireBody)
	shared := 0
	for i, x := range a.Bands() {
		if x == b.Bands()[i] {
			shared++
		}
	}
	if shared == 0 {
		t.Fatal("copies share no band")
	}
	c, ok := SignatureFromBytes(a.Bytes())
	if !ok || c != a {
		t.Fatal("signature does not survive encoding")
	}
	if _, ok := Fingerprint("", " ... "); ok {
		t.Fatal("a text without words has a fingerprint")
	}
}

// Outlets that end every item with the same sentences must not make their
// different stories look alike.
func TestBoilerplateIsStripped(t *testing.T) {
	t.Parallel()
	tail := " Subscribe to our channel for more news from the region. Al Jazeera's correspondent reports from Tripoli." +
		"\nCopyright 2020 Example Broadcasting. All rights reserved."
	stories := []string{
		"Fighting resumed south of the capital on Tuesday as drones struck supply lines near Gharyan.",
		"The central bank said it would unify the exchange rate before the end of the year.",
		"Migrant boats kept setting out from the western coast despite the closure of Italian ports.",
		"Talks on a ceasefire stalled in Geneva after the eastern delegation walked out.",
		"Power cuts of up to eighteen hours a day hit the capital as the summer heat set in.",
	}
	var texts []string
	for _, s := range stories {
		texts = append(texts, s+tail)
	}
	bp := FindBoilerplate(texts, 2)
	if len(bp) != 4 { // the two sign-off sentences, the copyright line and "All rights reserved."
		t.Fatalf("found %d boilerplate sentences, want 4", len(bp))
	}
	raw := sim(t, "Fighting resumes", texts[0], "Talks stall", texts[3])
	clean := sim(t, "Fighting resumes", bp.Strip(texts[0]), "Talks stall", bp.Strip(texts[3]))
	if clean > 0.05 || raw <= clean {
		t.Fatalf("similarity with boilerplate %.2f, without %.2f", raw, clean)
	}
	if got := bp.Strip(texts[1]); !strings.Contains(got, "exchange rate") || strings.Contains(got, "Subscribe") {
		t.Fatalf("stripped: %q", got)
	}
}
