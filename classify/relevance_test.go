package classify

import (
	"bufio"
	"encoding/json"
	"os"
	"sort"
	"testing"
)

// articlesCorpus is the bench corpus of news items, as the background the
// reference's terms are weighed against.
func articlesCorpus(t *testing.T) []string {
	t.Helper()
	f, err := os.Open("testdata/articles.jsonl")
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	var out []string
	sc := bufio.NewScanner(f)
	sc.Buffer(nil, 1<<22)
	for sc.Scan() {
		var a struct{ Title, Summary, Content string }
		if err := json.Unmarshal(sc.Bytes(), &a); err != nil {
			t.Fatal(err)
		}
		out = append(out, a.Title+"\n"+StripHTML(StoryText(a.Summary, a.Content)))
	}
	return out
}

// Items about the reference's event rank above items that mention Libya,
// Haftar or Assad in passing, and those above items that do not.
func TestRelevanceRanksTheSameEventFirst(t *testing.T) {
	t.Parallel()
	ref, err := os.ReadFile("../demo/reference.md")
	if err != nil {
		t.Fatal(err)
	}
	corpus := NewCorpus(articlesCorpus(t))
	rel := NewRelevance([]ReferenceModel{NewReferenceModel(string(ref), corpus)})
	items := []struct {
		name, title, text string
		sameEvent         bool
	}{
		{"russia and assad move fighters", "Russia working with Assad to send militia fighters to Libya, U.S. says",
			"Senior U.S. officials said Russia is working with Syrian President Bashar al-Assad to transfer fighters and equipment to Libya to back Khalifa Haftar's offensive on Tripoli.", true},
		{"wagner in libya", "Wagner Group contractors deployed south of Tripoli",
			"Russian private military contractors from the Wagner Group are fighting alongside Haftar's Libyan National Army on the front lines near Tripoli, U.N. monitors say; Moscow denies any role.", true},
		{"us officials on haftar", "U.S. does not back Haftar's assault on Tripoli, State Department says",
			"The United States does not support the LNA's military action against Tripoli, an official said, adding that Washington is concerned by Haftar's outreach to Damascus.", true},
		{"syrian fighters flown east", "Syrian fighters flown to eastern Libya, sources say",
			"Flights from Damascus carried fighters recruited in Syria to Benghazi to reinforce the eastern commander Khalifa Haftar, according to people familiar with the transfers.", true},
		{"oil prices", "Oil climbs as supply worries grow",
			"Brent crude rose 2% on Tuesday as traders weighed OPEC output cuts, a weaker dollar and outages in Libya and Nigeria that tightened supply.", false},
		{"football", "Libya stun Tunisia in World Cup qualifier",
			"A late goal gave Libya a 1-0 win over Tunisia in Benghazi on Sunday, keeping their hopes of a first World Cup alive.", false},
		{"migrants", "Coast guard rescues 200 migrants off Lampedusa",
			"Most of the migrants had set out from the Libyan coast in rubber boats; Italy asked the European Union for help with arrivals.", false},
		{"assad in passing", "Hezbollah and Israel trade fire on Lebanon border",
			"Shelling continued for a third day; analysts said Iran and the Assad government were watching closely.", false},
		{"unrelated", "Central bank holds rates steady",
			"The bank kept its key rate at 4.5% and signalled that inflation was easing faster than expected.", false},
	}
	type scored struct {
		name  string
		score float64
		same  bool
	}
	var got []scored
	for _, it := range items {
		s, ok := rel.Score(it.title, it.text)
		if !ok || s < 0 || s > 1 {
			t.Fatalf("%s: score %v, %v", it.name, s, ok)
		}
		got = append(got, scored{it.name, s, it.sameEvent})
	}
	sort.Slice(got, func(i, j int) bool { return got[i].score > got[j].score })
	for i, g := range got {
		t.Logf("%d. %.3f %s", i+1, g.score, g.name)
	}
	for i := range 4 {
		if !got[i].same {
			t.Fatalf("rank %d is %q, an item that is not about the event", i+1, got[i].name)
		}
	}
	if got[3].score < 2*got[4].score {
		t.Errorf("the least relevant item about the event (%.3f) is not clearly above the most relevant passing mention (%.3f)",
			got[3].score, got[4].score)
	}
	if _, ok := NewRelevance(nil).Score("Libya", ""); ok {
		t.Error("no reference should give no score")
	}
}

func TestTerms(t *testing.T) {
	t.Parallel()
	got := Terms("Libya's fighters, a Libyan fighter: 2020 Ḥaftar ЛИВИЯ")
	want := []string{"libya", "fight", "libya", "fight", "hafta", "ливия"}
	if len(got) != len(want) {
		t.Fatalf("Terms = %q, want %q", got, want)
	}
	for i := range want {
		if got[i] != want[i] {
			t.Fatalf("Terms = %q, want %q", got, want)
		}
	}
}
