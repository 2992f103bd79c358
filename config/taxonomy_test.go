package config

import (
	"strconv"
	"strings"
	"testing"
)

func TestShippedTaxonomy(t *testing.T) {
	tax := ShippedTaxonomy()
	if n := tax.Leaves(); n < 300 {
		t.Errorf("%d leaf names; want several hundred (Foursquare's public categories)", n)
	}
	want := map[string]string{ // name → group id
		"Drugstore / Pharmacy":                     "health",
		"Home (private)":                           "residence",
		"Residential Building (Apartment / Condo)": "residence",
		"Residential Building (Apartment / C...)":  "residence",
		"Housing Development":                      "residence",
		"Gym / Fitness Center":                     "outdoors",
		"Coffee Shop":                              "food",
		"Nursery School":                           "children",
		"Playground":                               "children",
		"Shrine":                                   "religion",
		"Cemetery":                                 "death",
		"Funeral Home":                             "death",
		"Medical School":                           "health",
		"Gay Bar":                                  "sexual",
		"Voting Booth":                             "politics",
		"Subway":                                   "travel",
		"Ramen / Noodle House":                     "food",
		"Food":                                     "food",
		"café":                                     "food",
		"  COFFEE   shop ":                         "food",
	}
	for name, id := range want {
		c := tax.Lookup(name)
		if !c.Known() || tax.Groups[c.Group].ID != id {
			t.Errorf("Lookup(%q) = %+v, want group %s", name, c, id)
		}
	}
	if c := tax.Lookup("Food"); c.Leaf != "" {
		t.Errorf("a group's own name is the group level, got leaf %q", c.Leaf)
	}
	if c := tax.Lookup("coffee shop"); c.Leaf != "Coffee Shop" {
		t.Errorf("leaves are released in their canonical spelling, got %q", c.Leaf)
	}
	// The synthetic city's categories are all known.
	for _, name := range []string{"Coffee Shop", "Restaurant", "Bar", "Fast Food", "Bakery", "Supermarket",
		"Convenience Store", "Gym", "Park", "Office", "Coworking Space", "Clothing Store", "Bookstore", "Pharmacy",
		"Bank", "Hair Salon", "Museum", "Cinema", "Theater", "Train Station", "Metro Station", "University", "School",
		"Hotel", "Nightclub", "Library", "Shopping Mall", "Post Office", "Stadium", "Medical Clinic", "Hospital",
		"Place of Worship", "Sexual Health Clinic", "Addiction Treatment Center"} {
		if !tax.Lookup(name).Known() || tax.Lookup(name).ByKeyword {
			t.Errorf("synthetic city category %q is not listed", name)
		}
	}
	var sensitive []string
	for _, g := range tax.Groups {
		if g.Sensitive {
			sensitive = append(sensitive, g.ID)
		}
	}
	for _, id := range []string{"health", "religion", "death", "children", "residence", "sexual", "politics", "addiction"} {
		if !strings.Contains(" "+strings.Join(sensitive, " ")+" ", " "+id+" ") {
			t.Errorf("sensitive group %s missing (have %v)", id, sensitive)
		}
	}
}

// Unknown names fall to a sensitive group by keyword, as whole words, plural or not, or
// inside a word for keywords marked *; other unknown names are unknown. Look-alike and
// fullwidth letters are read as the letters they look like.
func TestTaxonomyKeywords(t *testing.T) {
	tax := ShippedTaxonomy()
	for name, want := range map[string]string{
		"Children's Hospital":         "health",
		"Hospital Chapel":             "health",
		"Ｈｏｓｐｉｔａｌ":                    "health",
		"Hоspital":                    "health", // a Cyrillic o
		"ΗOSPITAL":                    "health", // a Greek capital eta
		"СНURСН":                      "religion",
		"ΝURSERY SCHOOL":              "children",
		"Cl\u0131nic":                 "health", // a dotless i
		"ＣＨＵＲＣＨ":                      "religion",
		"MedicalCenter":               "health",
		"Oncology Associates":         "health",
		"Dr. Smith, Cardiologist":     "health",
		"Emergency Roo…":              "health",
		"Old Town Cemeteries":         "death",
		"Family Mausoleum":            "death",
		"Masjid Al-Noor":              "religion",
		"Polyclinic Nord":             "health",
		"Soft Play Area":              "children",
		"St. Mary's Catholic Church":  "religion",
		"Veterans Clinics":            "health",
		"Alcoholics Anonymous Center": "addiction",
		"Montessori School":           "children",
		"Nail Studio":                 "",
		"Sussex Tea House":            "",
		"":                            "",
	} {
		c := tax.Lookup(name)
		got := ""
		if c.Known() {
			got = tax.Groups[c.Group].ID
			if c.ByKeyword && c.Leaf != "" {
				t.Errorf("Lookup(%q) = %+v: a keyword match has no leaf", name, c)
			}
		}
		if got != want {
			t.Errorf("Lookup(%q) is group %q, want %q", name, got, want)
		}
	}
}

// groupsOf lists the ids of c's group and of its Also groups; nil when unknown.
func groupsOf(tax *Taxonomy, c Category) []string {
	if !c.Known() {
		return nil
	}
	got := []string{tax.Groups[c.Group].ID}
	for _, a := range c.Also {
		got = append(got, tax.Groups[a].ID)
	}
	return got
}

// A name that holds keywords of several sensitive groups belongs to all of them, listed
// or not, and in whichever group it is listed; the listing decides the group it shows.
// Names a sensitive group excepts do not get it.
func TestTaxonomyAlso(t *testing.T) {
	tax := ShippedTaxonomy()
	for name, want := range map[string][]string{
		"Children's Hospital":  {"health", "children"},
		"Hospital Chapel":      {"health", "religion"},
		"Prison Hospital":      {"health", "justice"},
		"City Hospital":        {"health"},
		"Religious School":     {"religion", "children"}, // listed in religion
		"Sexual Health Clinic": {"sexual", "health"},     // listed in sexual
		"Methadone Clinic":     {"addiction", "health"},
		"Sober Living Home":    {"addiction", "residence"},
		"Driving School":       {"college", "children"}, // listed in a group that is not sensitive
		"Language School":      {"college", "children"},
		"Food Court":           {"food"}, // justice excepts it
		"Basketball Court":     {"outdoors"},
		"Food Courts":          {"food"},    // read as the listed Food Court
		"Mall Food Court":      {"justice"}, // not listed: the keyword decides
		"Law School":           {"college"},
		"Medical School":       {"health"},
		"Funeral Home":         {"death"},
		"Animal Shelter":       {"work"},
		"Coffee Shop":          {"food"},
	} {
		if got := groupsOf(tax, tax.Lookup(name)); strings.Join(got, " ") != strings.Join(want, " ") {
			t.Errorf("Lookup(%q): groups %v, want %v", name, got, want)
		}
	}
}

// A name the list lacks keeps the groups of the listed name it spells: words run
// together or apart, a word in the plural, digits for letters.
func TestTaxonomySpellings(t *testing.T) {
	tax := ShippedTaxonomy()
	for name, want := range map[string]struct {
		leaf   string
		groups []string
	}{
		"GayBar":                {"Gay Bar", []string{"sexual"}},
		"Gay-Bars":              {"Gay Bar", []string{"sexual"}},
		"Night Club":            {"Nightclub", []string{"nightlife"}},
		"Hos pital":             {"Hospital", []string{"health"}},
		"PlayGrounds":           {"Playground", []string{"children"}},
		"Religious Schools":     {"Religious School", []string{"religion", "children"}},
		"ReligiousSchool":       {"Religious School", []string{"religion", "children"}},
		"Laboratories":          {"Laboratory", []string{"health"}},
		"Churches":              {"Church", []string{"religion"}},
		"Synagogues":            {"Synagogue", []string{"religion"}},
		"Coffee Shops":          {"Coffee Shop", []string{"food"}},
		"Tennis Courts":         {"Tennis Court", []string{"outdoors"}}, // excepted from justice as listed
		"H0spital":              {"Hospital", []string{"health"}},
		"Cl1nic":                {"Clinic", []string{"health"}},
		"Schoo1":                {"School", []string{"children"}},
		"M0sque":                {"Mosque", []string{"religion"}},
		"C3metery":              {"Cemetery", []string{"death"}},
		"Gay24":                 {"", []string{"sexual"}},
		"Hosp1tal Cafeteria":    {"", []string{"health"}},
		"24h Pharmacy":          {"", []string{"health"}},
		"Gym / Fitness Centers": {"Gym / Fitness Center", []string{"outdoors"}},
		"7-Eleven":              {"", nil},
		"100 Yen Shop":          {"100 Yen Shop", []string{"shops"}},
		"Bus":                   {"", nil},
	} {
		c := tax.Lookup(name)
		if got := groupsOf(tax, c); c.Leaf != want.leaf || strings.Join(got, " ") != strings.Join(want.groups, " ") {
			t.Errorf("Lookup(%q) = leaf %q, groups %v; want %q, %v", name, c.Leaf, got, want.leaf, want.groups)
		}
	}
}

// Listed names that run together the same give a spelling of them all their groups.
func TestTaxonomySpellingsCollide(t *testing.T) {
	tax, err := ParseTaxonomy([]byte(`groups:
  - {id: fun, name: Fun, categories: [Playground]}
  - {id: kids, name: Kids, sensitive: true, categories: [Play Ground]}
`), "test")
	if err != nil {
		t.Fatal(err)
	}
	for name, want := range map[string]string{"Playground": "fun", "Play-Ground": "kids", "PlayGrounds": "fun kids", "P layground": "fun kids"} {
		if got := strings.Join(groupsOf(tax, tax.Lookup(name)), " "); got != want {
			t.Errorf("Lookup(%q): groups %s, want %s", name, got, want)
		}
	}
}

// Until listed names were scanned for keywords, a listed name was only of its own group:
// a policy's taxonomy that listed "Hospital Cafeteria" under food released it. Now the
// keywords of sensitive groups apply to it too, which is the more private choice: it is
// health unless the taxonomy excepts it.
func TestTaxonomyAlsoCustom(t *testing.T) {
	const doc = `groups:
  - {id: health, name: Health, sensitive: true, categories: [Clinic], keywords: [hospital*, clinic*]}
  - {id: kids, name: Kids, sensitive: true, keywords: [child*], except: [Childs Diner]}
  - {id: food, name: Food, categories: [Hospital Cafeteria, Childs Diner, Children's Hospital Cafe, Cafe]}
`
	tax, err := ParseTaxonomy([]byte(doc), "test")
	if err != nil {
		t.Fatal(err)
	}
	for name, want := range map[string][]string{
		"Hospital Cafeteria":       {"food", "health"},
		"Childs Diner":             {"food"},
		"Children's Hospital Cafe": {"food", "health", "kids"},
		"Cafe":                     {"food"},
		"Clinic":                   {"health"},
	} {
		c := tax.Lookup(name)
		if got := groupsOf(tax, c); strings.Join(got, " ") != strings.Join(want, " ") {
			t.Errorf("Lookup(%q): groups %v, want %v", name, got, want)
		}
		if c.ByKeyword || c.Leaf == "" {
			t.Errorf("Lookup(%q) = %+v: a listed name keeps its leaf", name, c)
		}
	}
}

// Keywords of each sensitive group catch the names the list lacks, in several groups
// where a name points at several.
func TestTaxonomyKeywordGroups(t *testing.T) {
	tax := ShippedTaxonomy()
	for name, want := range map[string]string{
		"Pediatric Urgent Care":       "health children",
		"Paediatric Ward":             "health children",
		"Hospice Care":                "health death",
		"St. Luke's Hospice":          "health death",
		"Nursing Facility":            "health",
		"Nursing Homes":               "residence health",
		"Skilled Nursing":             "health",
		"School Nurse Office":         "health children",
		"Nurses' Station":             "health",
		"Midwifery Practice":          "health",
		"Midwives Collective":         "health",
		"Midwinter Market":            "",
		"Madras Café":                 "",
		"Internal Medicine":           "health",
		"Sports Medicine Center":      "health",
		"Centro Médico":               "health",
		"Prenatal Yoga":               "health",
		"HIV Testing":                 "sexual health",
		"STD Testing Center":          "sexual health",
		"Abortion Provider":           "sexual health",
		"Endocrinology Associates":    "health",
		"Nephrologist":                "health",
		"Rheumatology":                "health",
		"Hematology Oncology":         "health",
		"Audiologist":                 "health",
		"Anesthesiology":              "health",
		"Psychotherapy Practice":      "health",
		"Counseling Center":           "health",
		"Dementia Care":               "health",
		"Vaccination Site":            "health",
		"Imaging Center":              "health",
		"Dental Care":                 "health",
		"Farmacia San Pablo":          "health",
		"Apotheke am Markt":           "health",
		"Krankenhaus Nord":            "health",
		"Gurudwara Sahib":             "religion",
		"Gurudwara":                   "religion",
		"Gurudwaras":                  "religion",
		"Beth Israel Shul":            "religion",
		"Yeshiva University":          "religion",
		"Madrasah":                    "religion",
		"Madrassa":                    "religion",
		"Brooklyn Tabernacle":         "religion",
		"Seventh-day Adventist":       "religion",
		"Evangelist Center":           "religion",
		"Bible Study":                 "religion",
		"Sunday School":               "religion children",
		"Iglesia Cristiana":           "religion",
		"Sultan Ahmet Camii":          "religion",
		"Meiji Jingu":                 "religion",
		"Synagoga":                    "religion",
		"Private House":               "residence",
		"House (private)":             "residence",
		"House, private":              "residence",
		"Townhouses":                  "residence",
		"Women's Refuge":              "residence",
		"Homeless Services":           "residence",
		"Retirement Village":          "residence",
		"Montessori Academy":          "children",
		"Babysitter":                  "children",
		"Babysitting":                 "children",
		"Orphanage":                   "children residence",
		"Orphans' Home":               "children residence",
		"Kindertagesstätte":           "children",
		"École maternelle":            "children",
		"Hoikuen":                     "children",
		"Teen Center":                 "children",
		"Childminder":                 "children",
		"Gentlemen's Club":            "sexual",
		"Gentlemens Club":             "sexual",
		"Gentleman's Club":            "sexual",
		"Adult Shop":                  "sexual",
		"Adult Cinema":                "sexual",
		"Adult Theatre":               "sexual",
		"Swinger":                     "sexual",
		"Swinger Party":               "sexual",
		"Swingers":                    "sexual",
		"Love Motel":                  "sexual",
		"Bathhouse":                   "shops sexual", // read as the listed Bath House, and sexual
		"Men's Bathhouse":             "sexual",
		"Homosexual Club":             "sexual",
		"Sexuality Center":            "sexual",
		"Lap Dancing Club":            "sexual",
		"Sheriff's Office":            "justice",
		"County Sheriff":              "justice",
		"Parole Office":               "justice",
		"Parole Board":                "justice",
		"Public Defender":             "justice",
		"Public Defender's Office":    "justice",
		"Criminal Defense Attorney":   "justice",
		"Criminal Defence Solicitors": "justice",
		"Magistrates' Court":          "justice",
		"Department of Corrections":   "justice",
		"Hall of Justice":             "justice",
		"Polizei":                     "justice",
		"Passport Office":             "origin",
		"Passport Offices":            "origin",
		"Visa Application Centre":     "origin",
		"Immigrant Services":          "origin",
		"Embajada de México":          "origin",
		"Needle Exchange":             "addiction",
		"Syringe Exchange":            "addiction",
		"Opioid Treatment":            "addiction",
		"Al-Anon Meeting":             "addiction",
		"Halfway House":               "addiction residence justice",
		"Ballot Drop Box":             "politics",
		"Democratic Party Office":     "politics",
		"Teamsters Local 237":         "politics",
		"Necropolis":                  "death",
		"Undertaker":                  "death",
		"Cimetière du Père-Lachaise":  "death",
	} {
		if got := strings.Join(groupsOf(tax, tax.Lookup(name)), " "); got != want {
			t.Errorf("Lookup(%q): groups %q, want %q", name, got, want)
		}
	}
}

// Names of places that are not sensitive: the listed leaves of groups that are not,
// and other Foursquare categories and common names of such places. Keywords must not
// catch them, but for the few listed here that they do catch, over-suppression being
// the price of default-deny ("Animal Hospital" is health, a "Trade School" children).
// A keyword change that catches a new one must add it here, knowingly, or be narrowed.
func TestTaxonomyInnocent(t *testing.T) {
	tax := ShippedTaxonomy()
	caught := map[string]string{
		"Driving School": "children", "Language School": "children", "Trade School": "children",
		"Samba School": "children", "Art School": "children", "Ballet School": "children",
		"Cooking School": "children", "Culinary School": "children", "Dance School": "children",
		"Flight School": "children", "Martial Arts School": "children", "Ski School": "children",
		"Surf School": "children", "Youth Hostel": "children", "Plant Nursery": "children",
		"Tree Nursery": "children", "Dog Daycare": "children", "Pet Daycare": "children",
		"Hospitality School": "health children", "Animal Hospital": "health", "Pet Hospital": "health",
		"Veterinary Clinic": "health", "Skin Care Clinic": "health", "Medical Spa": "health",
		"Music Therapy Studio": "health", "Squash Court": "justice", "Badminton Court": "justice",
		"Mall Food Court": "justice", "Home Goods Store": "residence", "Home Improvement Store": "residence",
		"Home Service": "residence", "Jewish Restaurant": "religion", "Bathhouse Café": "sexual",
		"Amish Market": "religion", "Courthouse Square Café": "justice",
		// Not innocent: a halal or kosher restaurant points at a religious practice, as
		// a Jewish one does; caught knowingly.
		"Halal Restaurant": "religion", "Kosher Restaurant": "religion",
	}
	names := []string{
		// Foursquare categories this taxonomy does not list.
		"Racecourse", "Samba School", "Tour Provider", "Karaoke Box", "Sporting Event", "Stoop Sale",
		"Belgian Restaurant", "Caucasian Restaurant", "Comfort Food Restaurant", "Czech Restaurant",
		"Fondue Restaurant", "Friterie", "Jewish Restaurant", "Modern European Restaurant", "Pet Café",
		"Poutine Place", "Sri Lankan Restaurant", "Theme Restaurant", "Truck Stop", "Night Market",
		"Bathing Area", "Canal Lock", "Cave", "Gun Range", "Mountain Hut", "Skydiving Drop Zone", "Stables",
		"State / Provincial Park", "Waterfall", "Windmill", "Art Studio", "Ballroom", "Club House",
		"Distribution Center", "Observatory", "Social Club", "Waste Facility", "Wedding Hall", "Astrologer",
		"Auto Dealership", "Auto Garage", "Auto Workshop", "Bath House", "Batik Shop", "Business Service",
		"Carpet Store", "Check Cashing Service", "Construction & Landscaping", "Costume Shop",
		"Currency Exchange", "Dive Shop", "Event Service", "Fabric Shop", "Film Studio", "Fireworks Store",
		"Fishing Store", "Floating Market", "Frame Store", "Gun Shop", "Health & Beauty Service",
		"Home Service", "IT Services", "Insurance Office", "Kitchen Supply Store", "Knitting Store",
		"Lawyer", "Leather Goods Store", "Lottery Retailer", "Luggage Store", "Massage Studio",
		"Mattress Store", "Motorsports Shop", "Notary", "Other Repair Shop", "Outdoor Supply Store",
		"Outlet Mall", "Perfume Shop", "Photography Studio", "Piercing Parlor", "Pop-Up Shop",
		"Public Bathroom", "Recording Studio", "Rental Service", "Sauna / Steam Room", "Shipping Store",
		"Shoe Repair", "Shopping Plaza", "Skate Shop", "Ski Shop", "Smoothie Shop", "Stationery Store",
		"Supplement Shop", "Used Bookstore", "Vape Store", "Watch Shop", "Baggage Locker", "Boat Rental",
		"Duty-free Shop", "Heliport", "Port", "RV Park", "Transportation Service", "Trattoria/Osteria",
		"Monument / Landmark", "Fountain", "Beer Store", "Village", "City", "State", "Palace", "Rugby Pitch",
		"Athletics & Sports", "Nightclubs", "Pubs", "Steakhouses", "Bakeries", "Bars", "Sandwich Places",
		"History Museums",
		// Names that hold parts of keywords, or words near them.
		"Squash Court", "Badminton Court", "Courtyard", "Hotel Courtyard", "Mall Food Court",
		"Home Goods Store", "Home Improvement Store", "Homeware Store", "Geology Museum", "Biology Building",
		"Zoology Museum", "Archaeology Museum", "Anthropology Museum", "Technology Park", "Ecology Center",
		"Terminology", "Astrology", "Hospitality School", "Culinary School", "Cooking School", "Dance School",
		"Surf School", "Ski School", "Flight School", "Art School", "Ballet School", "Martial Arts School",
		"Driving School", "Language School", "Trade School", "Youth Hostel", "Plant Nursery", "Tree Nursery",
		"Animal Hospital", "Pet Hospital", "Veterinary Clinic", "Dog Daycare", "Pet Daycare", "Cat Cafe",
		"Medieval Restaurant", "Accidental Bar", "Comedic Theater", "Cardio Studio", "Barre Studio",
		"Music Therapy Studio", "Skin Care Clinic", "Medical Spa", "Nutrition Store", "Vitamin Shop",
		"Beauty Salon", "Massage Parlor", "Day Spa", "Bathhouse Café", "Steam Bath", "Turkish Bath", "Hammam",
		"Ryokan", "Capsule Hotel", "Business Hotel", "Love Letter Café", "Korean BBQ", "Ambassador Hotel",
		"Flat White Café", "National Wildlife Refuge", "Caravan Park", "Shopping Precinct", "Amish Market",
		"Christmas Market", "Sussex Tea House", "Essex Pub", "Middlesex Arms",
		"Kinko's", "Marshalls", "Penthouse Bar", "Housewares", "Boathouse", "Greenhouse", "Warehouse Club",
		"Playhouse", "Courthouse Square Café", "Parking", "Parkinson Street",
	}
	for _, g := range tax.Groups {
		if !g.Sensitive {
			names = append(names, g.Categories...)
		}
	}
	seen := make(map[string]bool)
	for _, name := range names {
		c := tax.Lookup(name)
		var gs []string
		for _, id := range groupsOf(tax, c) {
			if tax.Group(id).Sensitive {
				gs = append(gs, id)
			}
		}
		got := strings.Join(gs, " ")
		if got != caught[name] {
			t.Errorf("%q is %q, want %q", name, got, caught[name])
		}
		seen[name] = true
	}
	for name := range caught {
		if !seen[name] {
			t.Errorf("%q is listed as caught but not tested", name)
		}
	}
}

// Names Foursquare lists for sensitive places, in forms public data sets hold them.
func TestTaxonomyFoursquareSensitive(t *testing.T) {
	tax := ShippedTaxonomy()
	for _, name := range []string{"Indoor Play Area", "Mobility Store", "Obstetrician Gynecologist (Ob-gyn)", "Oncologist",
		"Islamic Center", "Jewish Community Center", "Pagoda", "Ashram", "Mausoleum", "Tomb", "Emergency Room",
		"Drugstore / Pharmacy", "Medical School", "Nursery School", "Playground", "Housing Development", "Shrine",
		"Cemetery", "Funeral Home", "Home (private)", "Residential Building (Apartment / Condo)", "Assisted Living"} {
		if c := tax.Lookup(name); !c.Known() || !tax.Groups[c.Group].Sensitive {
			t.Errorf("%q is not sensitive", name)
		}
	}
}

func TestParseTaxonomyRejects(t *testing.T) {
	for _, tt := range []struct{ name, yaml, want string }{
		{"duplicate leaf", "groups:\n- {id: a, name: A, categories: [X]}\n- {id: b, name: B, categories: [x]}\n",
			`groups[1].categories[0]: "x" is already listed in group "a"`},
		{"leaf named like another group", "groups:\n- {id: a, name: A, categories: [B]}\n- {id: b, name: B}\n",
			`groups[0].categories[0]: "B" is the name of groups[1]`},
		{"hidden character", "groups:\n- {id: a, name: A, categories: [\"X\\u200bY\"]}\n",
			"holds the invisible or control character U+200B"},
		{"keywords on a group that is not sensitive", "groups:\n- {id: a, name: A, keywords: [x]}\n",
			"groups[0].keywords: x apply to sensitive groups only"},
		{"bad id", "groups:\n- {id: A B, name: A}\n", `groups[0].id: "A B" must be 1 to 32 of a-z`},
		{"duplicate id", "groups:\n- {id: a, name: A}\n- {id: a, name: B}\n", `groups[1].id: "a" is already the id of groups[0]`},
		{"unknown key", "groups:\n- {id: a, name: A, sensitve: true}\n", "groups[0].sensitve (line 2): unknown key"},
		{"no groups", "groups: []\n", "groups: [] must list at least one group"},
		{"except not listed", "groups:\n- {id: a, name: A, sensitive: true, keywords: [court], except: [Food Court]}\n",
			`groups[0].except[0]: "Food Court" is not a listed category`},
		{"except without keyword", "groups:\n- {id: a, name: A, sensitive: true, keywords: [court], except: [Cafe]}\n- {id: b, name: B, categories: [Cafe]}\n",
			`groups[0].except[0]: "Cafe" holds none of the group's keywords`},
		{"except own leaf", "groups:\n- {id: a, name: A, sensitive: true, categories: [Court], keywords: [court], except: [court]}\n",
			`groups[0].except[0]: "court" is listed in this group`},
		{"except on a group that is not sensitive", "groups:\n- {id: a, name: A, except: [B]}\n- {id: b, name: B}\n",
			`groups[0].except[0]: "B" applies to sensitive groups only`},
		{"except twice", "groups:\n- {id: a, name: A, sensitive: true, keywords: [court], except: [Food Court, food court]}\n- {id: b, name: B, categories: [Food Court]}\n",
			`groups[0].except[1]: "food court" is listed twice`},
	} {
		_, err := ParseTaxonomy([]byte(tt.yaml), "test")
		if err == nil || !strings.Contains(err.Error(), tt.want) {
			t.Errorf("%s: error %v, want %q", tt.name, err, tt.want)
		}
	}
}

func TestHiddenRune(t *testing.T) {
	for s, hidden := range map[string]bool{
		"Coffee Shop": false, "Café": false, "Ramen / Noodle House": false, "ラーメン屋": false, "Bar & Grill": false,
		"Bar\u202e": true, "Bar\u200b": true, "Bar\t": true, "Bar\u00a0": true, "\ufeffBar": true, "Bar\u2066": true,
		"Bar\u3164": true, "Bar\ufe0f": true, "Bar\U000e0041": true, "Bar\x7f": true, "Bar\u0085": true, "Bar\ue000": true,
	} {
		if _, got := HiddenRune(s); got != hidden {
			t.Errorf("HiddenRune(%q) = %v, want %v", s, got, hidden)
		}
	}
}

// A policy's own taxonomy file is loaded and used; config check reports its problems.
func TestTaxonomyFile(t *testing.T) {
	cfg, err := Parse([]byte("taxonomy: testdata/small-taxonomy.yaml\npartners:\n  - {name: a, topic: t.a, release_sensitive_groups: [secret]}\n"))
	if err != nil {
		t.Fatal(err)
	}
	if err := cfg.Validate(); err != nil {
		t.Fatal(err)
	}
	tax := cfg.Taxonomy()
	if c := tax.Lookup("Hidden Garden"); !c.Known() || tax.Groups[c.Group].ID != "secret" {
		t.Errorf("Lookup in the policy's taxonomy: %+v", c)
	}
	if tax.Lookup("Coffee Shop").Known() {
		t.Error("the shipped taxonomy was used instead of the policy's")
	}
}

// A policy's own taxonomy that lacks sensitive groups of the shipped one, and
// suppress_categories entries that match nothing, are warned about.
func TestTaxonomyWarnings(t *testing.T) {
	cfg, err := Parse([]byte("taxonomy: testdata/small-taxonomy.yaml\npartners:\n  - {name: a, topic: t.a, suppress_categories: [Square, Sqare, secret]}\n"))
	if err != nil {
		t.Fatal(err)
	}
	if err := cfg.Validate(); err != nil {
		t.Fatal(err)
	}
	ws := strings.Join(cfg.Warnings(), "\n")
	for _, want := range []string{`has no sensitive group "health" (health)`, `has no sensitive group "religion"`,
		`suppress_categories[1]: "Sqare" is no category or group of the taxonomy`} {
		if !strings.Contains(ws, want) {
			t.Errorf("warnings lack %q:\n%s", want, ws)
		}
	}
	for _, not := range []string{`"Square" is no category`, `"secret" is no category`} {
		if strings.Contains(ws, not) {
			t.Errorf("warnings hold %q:\n%s", not, ws)
		}
	}
}

// NormalizeCategory folds compatibility forms (NFKD: fullwidth, mathematical, circled,
// ligatures, long s), accents, case and look-alike letters, small and capital; capitals
// whose small letter looks like another Latin letter (Greek Η, Ν, Υ) are read as the
// capital looks. Digits stay digits.
func TestNormalizeCategory(t *testing.T) {
	for in, want := range map[string]string{
		"Ｈｏｓｐｉｔａｌ":         "hospital", // fullwidth
		"ＨＯＳＰＩＴＡＬ":         "hospital",
		"𝐇𝐨𝐬𝐩𝐢𝐭𝐚𝐥":         "hospital", // mathematical bold
		"Ⓗⓞⓢⓟⓘⓣⓐⓛ":         "hospital", // circled
		"ℌospitaℓ":         "hospital",
		"ﬁeld":             "field",
		"ſchool":           "school",
		"Hôpital":          "hopital",
		"İstanbul":         "istanbul",
		"Cl\u0131nic":      "clinic", // dotless i
		"Ch\u0131ld":       "child",
		"ΗOSPITAL":         "hospital", // Greek capital eta, not "nospital"
		"ΝURSE":            "nurse",    // Greek capital nu, not "vurse"
		"ΥOUTH":            "youth",    // Greek capital upsilon, not "uouth"
		"ΜΟSQUΕ":           "mosque",
		"ΖΟΟ":              "zoo",
		"ΑΒΕΖΗΙΚΜΝΟΡΤΥΧ":   "abezhikmnoptyx",
		"αβεικνορτυχ":      "abeikvoptux",
		"АВЕКМНОРСТХ":      "abekmhopctx", // Cyrillic capitals
		"авекмнорстх":      "abekmhopctx",
		"СНURСН":           "church",
		"НОSРIТАL":         "hospital",
		"Ѕсһооӏ":           "school",
		"ЁLEVEN":           "eleven",
		"7-Eleven":         "7 eleven",
		"100 Yen Shop":     "100 yen shop",
		"H0spital":         "h0spital", // digits stay: Lookup reads them as letters too
		"ʜᴏꜱᴘɪᴛᴀʟ":         "hospital", // Latin small capitals
		"ᴄʜᴜʀᴄʜ":           "church",
		"ᎻOSPITAL":         "hospital", // Cherokee capital
		"Hꮻspital":         "hospital", // Cherokee small letter
		"Hospitaǀ":         "hospital", // the click letter drawn like an l
		"Doctor's Office":  "doctor s office",
		"  Bar  &  Grill ": "bar grill",
	} {
		if got := NormalizeCategory(in); got != want {
			t.Errorf("NormalizeCategory(%q) = %q, want %q", in, got, want)
		}
	}
	// Every capital of the table reads as its small letter or as the same Latin letter.
	for r, l := range lookalike {
		if NormalizeCategory(string(r)) != string(l) {
			t.Errorf("%q (%U) reads as %q, want %q", r, r, NormalizeCategory(string(r)), l)
		}
		if l < 'a' || l > 'z' {
			t.Errorf("%q (%U) maps to %q, not a small Latin letter", r, r, l)
		}
	}
}

// A policy's own taxonomy that lists names the shipped one has in a sensitive group in
// a group that is not sensitive is warned about, once per pair of groups; so is a
// sensitive group that lacks names the shipped one of its id has. Names a keyword of a
// sensitive group claims are not.
func TestTaxonomyMovedSensitive(t *testing.T) {
	cfg, err := Parse([]byte("taxonomy: testdata/moved-sensitive-taxonomy.yaml\npartners:\n  - {name: a, topic: t.a}\n"))
	if err != nil {
		t.Fatal(err)
	}
	if err := cfg.Validate(); err != nil {
		t.Fatal(err)
	}
	ws := strings.Join(cfg.Warnings(), "\n")
	const file = "testdata/moved-sensitive-taxonomy.yaml"
	for _, want := range []string{
		`taxonomy: ` + file + ` lists "Hospital", "Pharmacy" in group "places", which is not sensitive; the shipped taxonomy has them in sensitive group "health" (health): check-ins there are released`,
		`lists "Church" in group "places", which is not sensitive; the shipped taxonomy has it in sensitive group "religion"`,
		`lists "Cemetery" in group "places", which is not sensitive; the shipped taxonomy has it in sensitive group "death"`,
		`lists "Sex Shop" in group "shops", which is not sensitive; the shipped taxonomy has it in sensitive group "sexual"`,
		`taxonomy: ` + file + `: sensitive group "health" lacks "Hospital Ward", "Medical Center", "Health Center", "Doctor's Office", "Dentist's Office" and `,
	} {
		if !strings.Contains(ws, want) {
			t.Errorf("warnings lack %q:\n%s", want, ws)
		}
	}
	for _, not := range []string{`"Medical Clinic"`, `"Square"`, `"Bookstore"`, `sensitive group "religion" lacks`} {
		if strings.Contains(ws, not) {
			t.Errorf("warnings hold %q:\n%s", not, ws)
		}
	}
	// The shipped taxonomy, and a copy of it given as a file, warn about nothing of it.
	cfg, err = Parse([]byte("taxonomy: categories.yaml\npartners:\n  - {name: a, topic: t.a}\n"))
	if err != nil {
		t.Fatal(err)
	}
	if err := cfg.Validate(); err != nil {
		t.Fatal(err)
	}
	for _, w := range cfg.Warnings() {
		if strings.HasPrefix(w, "taxonomy:") {
			t.Errorf("the shipped taxonomy as a file: %s", w)
		}
	}
}

// Group ids that differ only by - and _ are one id to suppress_categories: refused.
func TestTaxonomyIDsCollide(t *testing.T) {
	_, err := ParseTaxonomy([]byte(`groups:
  - {id: hiv-care, name: HIV care, sensitive: true, categories: [HIV Clinic]}
  - {id: hiv_care, name: HIV testing, sensitive: true, categories: [HIV Testing Center]}
  - {id: food, name: Food, categories: [Bakery]}
`), "collide.yaml")
	if err == nil || !strings.Contains(err.Error(), `groups[1].id: "hiv_care" is already the id of groups[0] ("hiv-care"), ignoring - and _`) {
		t.Errorf("colliding ids: %v", err)
	}
}

// BenchmarkLookup: what one category name costs when the releaser's cache of names does
// not hold it (a stream of more distinct names than it keeps): a listed name, an
// unknown one (keywords and typos tried), and one of 128 bytes.
func BenchmarkLookup(b *testing.B) {
	tax := ShippedTaxonomy()
	for _, c := range []struct{ name, value string }{
		{"listed", "Drugstore / Pharmacy"},
		{"unknown", "Some Unknown Venue Kind Number %d"},
		{"long", strings.Repeat("ab", 60) + " unknown %d"},
	} {
		b.Run(c.name, func(b *testing.B) {
			for i := 0; b.Loop(); i++ {
				tax.Lookup(strings.Replace(c.value, "%d", strconv.Itoa(i%1000), 1))
			}
		})
	}
}

// What a suppress_categories entry names: a group by id or name, a listed name in any
// spelling Lookup reads as it, or nothing (a name that only holds a keyword, a typo).
func TestSuppressEntry(t *testing.T) {
	tax := ShippedTaxonomy()
	group := func(id string) int {
		for i, g := range tax.Groups {
			if g.ID == id {
				return i
			}
		}
		t.Fatalf("no group %q", id)
		return -1
	}
	for _, tc := range []struct {
		entry, leaf string
		group       int
	}{
		{"nightlife", "", group("nightlife")},
		{"Nightlife Spot", "", group("nightlife")},
		{"Coffee Shops", "Coffee Shop", -1},
		{"coffeeshop", "Coffee Shop", -1},
		{"Old Clinic Place", "", -1},
		{"Hosptial", "", -1},
		{"secret sauce", "", -1},
	} {
		if leaf, g := tax.SuppressEntry(tc.entry); leaf != tc.leaf || g != tc.group {
			t.Errorf("SuppressEntry(%q) = %q, %d; want %q, %d", tc.entry, leaf, g, tc.leaf, tc.group)
		}
	}
}
