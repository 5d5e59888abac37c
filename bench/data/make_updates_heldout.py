"""Held-out update set: hand-written cases, written separately from the dev set
(other people, topics and phrasings). Never use its failures to change rules.
Run: python bench/data/make_updates_heldout.py"""
import os
import sys

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from _updates_lib import Builder  # noqa: E402

UP, CO, NE, UN, RE, NF, ST = ("update", "correction", "negation", "unrelated_same_topic",
                              "restatement", "new_fact", "small_talk")
b = Builder("heldout", "2024-02-05T14:00:00")
c = b.c

# ---------------- updates ----------------
c(UP, "Nadia", ["Nadia lives in Marseille.", "Nadia works as a sommelier."],
  "Bonjour! Guess who lives in Lyon now 🙋‍♀️ the move was a nightmare but we're in. Marseille feels like ages ago",
  [("Nadia lives in Lyon.", "U", 0)])
c(UP, "Kaito", ["Kaito works as a line cook at a ramen shop."],
  "so the ramen place let me go (long story) but I landed a sous chef gig at an izakaya in Shibuya!! way better tbh",
  [("Kaito works as a sous chef at an izakaya in Shibuya.", "U", 0)])
c(UP, "Oluwaseun", ["Oluwaseun's car is a Honda Accord.", "Oluwaseun lives in Houston."],
  "RIP to the accord, transmission gave out on I-10. I'm driving a used Camry now, it's fine i guess",
  [("Oluwaseun drives a used Toyota Camry.", "U", 0)])
c(UP, "Inês", ["Inês has a boyfriend named Rui."],
  "Rui proposed!!! on the beach in Algarve at sunset, I'm crying again just typing this",
  [("Inês is engaged to Rui.", "U", 0)])
c(UP, "Declan", ["Declan is a season ticket holder at Celtic Park."],
  "gave up the season ticket, too dear now with the mortgage. watching from the pub these days",
  [("Declan no longer has a season ticket at Celtic Park.", "U", 0), ("Declan has a mortgage.", "A")])
c(UP, "Sana", ["Sana commutes by bus.", "Sana works at a bank in Karachi."],
  "bought a scooter finally! no more waiting 40 mins for the bus in this heat",
  [("Sana commutes by scooter.", "U", 0)])
c(UP, "Matthias", ["Matthias is 41.", "Matthias plays the trumpet in a brass band."],
  "jetzt 42, gestern Geburtstag gefeiert 🎂 the brass band played me a song lol",
  [("Matthias is 42.", "U", 0)])
c(UP, "Adaeze", ["Adaeze is a second-year law student at UNILAG."],
  "called to the bar last week!! Barrister Adaeze 👩🏾‍⚖️",
  [("Adaeze was called to the bar and is a barrister.", "U", 0)])
c(UN, "Ruairí", ["Ruairí has a border collie named Fly."],
  "Fly's retired from the sheep now, she's an old lady. got a new pup, Bran, training him up",
  [("Ruairí has a border collie pup named Bran.", "A"), ("Ruairí's dog Fly is retired from herding.", "A")])
c(UP, "Camila", ["Camila is learning the guitar.", "Camila lives in Bogotá."],
  "dejé la guitarra lol, switched to ukulele cause my fingers hurt less. it's so cute",
  [("Camila is learning the ukulele.", "U", 0)])
c(UP, "Tevita", ["Tevita plays rugby for a club in Auckland."],
  "signed with a club in Brisbane for next season, big step! packing up in a few weeks",
  [("Tevita signed with a rugby club in Brisbane for next season.", "U", 0), ("Tevita is moving to Brisbane in a few weeks.", "A")])
c(UP, "Parisa", ["Parisa's favorite poet is Rumi."],
  "honestly Forough Farrokhzad has become my favourite, I reread her every night. Rumi is for my mum lol",
  [("Parisa's favorite poet is Forough Farrokhzad.", "U", 0), ("Parisa's mother likes Rumi.", "A")])
c(UP, "Jonas", ["Jonas works at a bike shop in Freiburg.", "Jonas lives in Freiburg."],
  "Update: I own the bike shop now 😳 old Herr Braun retired and sold it to me",
  [("Jonas owns the bike shop in Freiburg.", "U", 0), ("Herr Braun retired and sold Jonas the bike shop.", "A")])
c(UP, "Akosua", ["Akosua's hair is in braids."],
  "took out my braids and did the big chop, fully natural short hair now!",
  [("Akosua has short natural hair.", "U", 0)])
c(UP, "Wen", ["Wen teaches at an elementary school in Taipei."],
  "I'm the vice principal now!! same school, more paperwork. the kids still call me teacher Wen though",
  [("Wen is the vice principal at an elementary school in Taipei.", "U", 0)])
c(UP, "Luca", ["Luca lives with two roommates in Milan."],
  "both roommates moved out so I took the whole flat for myself. expensive but PEACE",
  [("Luca lives alone in a flat in Milan.", "U", 0)])
c(UP, "Mbali", ["Mbali is engaged to Sizwe."],
  "we did it! married Sizwe last saturday, traditional ceremony and white wedding both days 💍",
  [("Mbali is married to Sizwe.", "U", 0)])
c(UP, "Rafael", ["Rafael uses Spotify.", "Rafael likes samba."],
  "switched to apple music, the family plan was cheaper for us. still blasting samba obviously",
  [("Rafael uses Apple Music.", "U", 0), ("Rafael likes samba.", "N", 1)])
c(UP, "Shira", ["Shira is a sergeant in the IDF reserves.", "Shira lives in Haifa."],
  "I finished my reserve service for good this spring. civilian life full time 😌",
  [("Shira finished her reserve service.", "U", 0)])
c(UP, "Farhan", ["Farhan weighs 95 kg."],
  "down to 82kg!! 13 kilos gone since new year, tired of buying new jeans tho",
  [("Farhan weighs 82 kg.", "U", 0)])
c(UP, "Linnea", ["Linnea is a cashier at ICA.", "Linnea studies part-time."],
  "I got the trainee spot at the pharmacy! so goodbye ICA checkout forever",
  [("Linnea is a trainee at a pharmacy.", "U", 0)])
c(UP, "Bao", ["Bao's daughter is learning to walk."],
  "she's running everywhere now, I can't keep up 😅 also she said her first word, 'ba'!",
  [("Bao's daughter can run.", "U", 0), ("Bao's daughter said her first word.", "A")])
c(UP, "Catalina", ["Catalina's favorite coffee is a flat white."],
  "I've been converted to cortados. flat whites feel too milky now idk",
  [("Catalina's favorite coffee is a cortado.", "U", 0)])
c(UP, "Dario", ["Dario has a Vespa.", "Dario lives in Rome."],
  "the vespa got stolen outside the Termini 🙄 so I'm on the metro now like a peasant",
  [("Dario's Vespa was stolen.", "U", 0), ("Dario takes the metro.", "A")])
c(UP, "Eun-ji", ["Eun-ji works at Naver.", "Eun-ji lives in Seongnam."],
  "moved from naver to kakao last month and got a place in pangyo, both near each other so the commute's 10 mins",
  [("Eun-ji works at Kakao.", "U", 0), ("Eun-ji lives in Pangyo.", "U", 1)])
c(UP, "Folasade", ["Folasade has one child."],
  "Baby number two arrived! a little boy, Tobi. big sis is obsessed",
  [("Folasade has two children.", "U", 0), ("Folasade's son Tobi was born.", "A")])
c(UP, "Gaurav", ["Gaurav's gaming setup uses a PS4."],
  "upgraded to PS5 finally, god of war looks insane",
  [("Gaurav games on a PS5.", "U", 0)])
c(UP, "Ilse", ["Ilse is a member of the Amsterdam rowing club."],
  "switched to the club in Utrecht since the move, same sport new river 🚣‍♀️",
  [("Ilse is a member of a rowing club in Utrecht.", "U", 0), ("Ilse moved to Utrecht.", "A")])
c(UP, "Jaroslav", ["Jaroslav's salary is 50k a year."],
  "got the raise, I'm on 58k now. not rich but better",
  [("Jaroslav's salary is 58k a year.", "U", 0)])
c(UP, "Kalani", ["Kalani surfs at Waikiki."],
  "mostly surfing the North Shore now, Waikiki's too crowded with tourists",
  [("Kalani mostly surfs at the North Shore.", "U", 0)])
c(UP, "Lorenzo", ["Lorenzo is a waiter at Trattoria Da Gino.", "Lorenzo is studying to be a sommelier."],
  "passed my sommelier exam!!! so Gino made me the wine guy at the trattoria, no more carrying plates",
  [("Lorenzo is the sommelier at Trattoria Da Gino.", "U", 0), ("Lorenzo passed his sommelier exam.", "U", 1)])
c(UP, "Manon", ["Manon is in a relationship with Hugo."],
  "Hugo et moi c'est fini. And I'm seeing someone new, Théo, it's very fresh but nice",
  [("Manon is no longer with Hugo.", "U", 0), ("Manon is seeing Théo.", "A")])
c(UP, "Nkechi", ["Nkechi attends Grace Chapel."],
  "we changed churches, we go to Covenant Assembly now, it's closer and the kids like the youth program",
  [("Nkechi attends Covenant Assembly.", "U", 0)])
c(UP, "Orla", ["Orla's phone is a Samsung Galaxy S21."],
  "dropped the galaxy down the toilet (don't ask). went for an iphone 15 this time",
  [("Orla has an iPhone 15.", "U", 0)])
c(UP, "Paulo", ["Paulo is a junior developer at Nubank."],
  "promoted to mid-level at nubank 🙌 the imposter syndrome remains",
  [("Paulo is a mid-level developer at Nubank.", "U", 0)])
c(UP, "Qing", ["Qing is renting in Chengdu.", "Qing is saving for a flat."],
  "we bought the flat!! in Chengdu, Wuhou district. mortgage for 30 years lol",
  [("Qing owns a flat in Chengdu's Wuhou district.", "U", 0), ("Qing bought a flat.", "U", 1)])
c(UP, "Rania", ["Rania's daughter goes to a public school."],
  "we moved Yasmin to the Montessori school this year, she's much happier",
  [("Rania's daughter Yasmin goes to a Montessori school.", "U", 0)])
c(UP, "Santiago", ["Santiago's band plays covers."],
  "we're only doing originals now! first EP drops next month",
  [("Santiago's band plays original songs.", "U", 0), ("Santiago's band is releasing its first EP next month.", "A")])
c(UP, "Tuğba", ["Tuğba works from home.", "Tuğba lives in Izmir."],
  "back to the office full time, new company policy. I miss my pajamas",
  [("Tuğba works from the office full time.", "U", 0)])
c(UP, "Uchenna", ["Uchenna's best friend is Obinna."],
  "after everything that happened I'd say Chuka is my closest friend now, Obinna and I drifted",
  [("Uchenna's closest friend is Chuka.", "U", 0)])
c(UP, "Vesna", ["Vesna has a parrot named Kiki."],
  "Kiki flew off when the window was open 😢 we looked everywhere. got a budgie named Pero to fill the silence",
  [("Vesna's parrot Kiki flew away.", "U", 0), ("Vesna has a budgie named Pero.", "A")])
c(UP, "Wiremu", ["Wiremu is a carpenter in Rotorua."],
  "I'm teaching carpentry at the polytech now instead of building, still in Rotorua",
  [("Wiremu teaches carpentry at the polytechnic in Rotorua.", "U", 0)])
c(UP, "Ximena", ["Ximena's favorite sport to watch is football."],
  "ok I'm obsessed with F1 now thanks to my boyfriend, football who??",
  [("Ximena's favorite sport to watch is Formula 1.", "U", 0), ("Ximena has a boyfriend.", "A")])
c(UP, "Yohannes", ["Yohannes lives in Addis Ababa.", "Yohannes runs marathons."],
  "I'm in Nairobi for good now, took the job with the UN. still running, the altitude's similar at least",
  [("Yohannes lives in Nairobi.", "U", 0), ("Yohannes works for the UN.", "A"), ("Yohannes runs marathons.", "N", 1)])
c(UP, "Zeynep", ["Zeynep is a vegetarian."],
  "I started eating chicken again, doctor's advice for iron. still no red meat",
  [("Zeynep eats chicken but no red meat.", "U", 0)])
c(UP, "Arnav", ["Arnav's startup has 5 employees."],
  "we just hit 20 people at the startup! had to get a bigger office",
  [("Arnav's startup has 20 employees.", "U", 0)])
c(UP, "Bongani", ["Bongani is a junior accountant at PwC."],
  "finished my articles and qualified as a CA! staying on at PwC as an assistant manager",
  [("Bongani is an assistant manager at PwC.", "U", 0), ("Bongani qualified as a chartered accountant.", "A")])
c(UP, "Cormac", ["Cormac plays Gaelic football for his local club."],
  "hung up the boots this year, 38 is too old for it. I'm the club treasurer now instead",
  [("Cormac no longer plays Gaelic football.", "U", 0), ("Cormac is the club treasurer.", "A")])
c(UP, "Delphine", ["Delphine is on a waitlist for a kidney transplant."],
  "I got the transplant in September!! new kidney's working great, feeling like a new person",
  [("Delphine received a kidney transplant in September.", "U", 0)])
c(UP, "Emeka", ["Emeka's wife is named Chioma.", "Emeka lives in Port Harcourt."],
  "Chioma got posted to Abuja so the whole family relocated there in June",
  [("Emeka lives in Abuja.", "U", 1), ("Emeka's wife Chioma was posted to Abuja.", "A")])

# ---------------- corrections ----------------
c(CO, "Fiona", ["Fiona lives in Glasgow.", "Fiona works as a midwife."],
  "ach sorry I wasn't clear, I work in Glasgow but I live out in Paisley. the train's 15 min",
  [("Fiona lives in Paisley.", "U", 0), ("Fiona works in Glasgow.", "A")])
c(CO, "Giorgos", ["Giorgos has a son named Nikos."],
  "Nikos is my nephew! my son is Alexandros, he's 7. Easy to mix up, they're always together",
  [("Nikos is Giorgos's nephew.", "U", 0), ("Giorgos has a 7-year-old son named Alexandros.", "A")])
c(CO, "Hamid", ["Hamid studied engineering in Tehran."],
  "not tehran, it was Isfahan University of Technology. tehran is where I did my masters",
  [("Hamid studied engineering at Isfahan University of Technology.", "U", 0), ("Hamid did his master's in Tehran.", "A")])
c(CO, "Ivana", ["Ivana's favorite band is Radiohead."],
  "wait did I say radiohead?? I meant Portishead lol, completely different vibe",
  [("Ivana's favorite band is Portishead.", "U", 0)])
c(CO, "Jude", ["Jude's wedding anniversary is in October."],
  "our anniversary is actually in November, the 2nd. October was when we met",
  [("Jude's wedding anniversary is on November 2.", "U", 0), ("Jude met their spouse in October.", "A")])
c(CO, "Lwazi", ["Lwazi has a younger sister named Zodwa."],
  "Zodwa's my cousin haha, we grew up in the same house so I call her sis. I'm an only child technically",
  [("Zodwa is Lwazi's cousin.", "U", 0), ("Lwazi is an only child.", "A")])
c(CO, "Mirela", ["Mirela is a dentist."],
  "dental hygienist, not dentist 😅 I do the cleaning, not the drilling",
  [("Mirela is a dental hygienist.", "U", 0)])
c(CO, "Niamh", ["Niamh's dog is called Bran."],
  "It's Brona, not Bran! she's a girl 😂",
  [("Niamh's dog is called Brona.", "U", 0)])
c(CO, "Oskar", ["Oskar moved to Stockholm in 2019.", "Oskar works as a sound engineer."],
  "correction, it was 2021 I moved, 2019 was when I first visited. pandemic scrambled my timeline",
  [("Oskar moved to Stockholm in 2021.", "U", 0), ("Oskar first visited Stockholm in 2019.", "A")])
c(CO, "Pooja", ["Pooja is a vegetarian who eats eggs."],
  "no eggs for me actually! strict veg. my husband eats eggs, that's where the confusion came from",
  [("Pooja is a strict vegetarian who does not eat eggs.", "U", 0), ("Pooja's husband eats eggs.", "A")])
c(CO, "Quentin", ["Quentin plays the cello."],
  "double bass! cello's the little brother haha. I play in a jazz trio",
  [("Quentin plays the double bass.", "U", 0), ("Quentin plays in a jazz trio.", "A")])
c(CO, "Renata", ["Renata has lived in Lisbon since 2015."],
  "Since 2012 actually, it'll be 12 years this autumn",
  [("Renata has lived in Lisbon since 2012.", "U", 0)])
c(CO, "Sipho", ["Sipho supports Kaizer Chiefs."],
  "Chiefs?? never 😤 I'm Orlando Pirates through and through. my brother is the Chiefs fan",
  [("Sipho supports Orlando Pirates.", "U", 0), ("Sipho's brother supports Kaizer Chiefs.", "A")])
c(CO, "Tamar", ["Tamar works at Google in Tel Aviv."],
  "it's Waze actually, which is owned by google, but I'm on the Waze team. Tel aviv yes",
  [("Tamar works on the Waze team at Google in Tel Aviv.", "U", 0)])
c(CO, "Ulla", ["Ulla's grandson is named Emil."],
  "Emil is my great-grandson, dear! I'm that old 😄",
  [("Ulla's great-grandson is named Emil.", "U", 0)])
c(CO, "Vusi", ["Vusi is a taxi driver in Durban."],
  "I drive for Bolt, not a taxi taxi. and it's Pietermaritzburg, Durban was before",
  [("Vusi drives for Bolt in Pietermaritzburg.", "U", 0)])
c(CO, "Wanjiru", ["Wanjiru is allergic to penicillin.", "Wanjiru is a teacher."],
  "ooh important correction for the record: it's sulfa drugs I react to, penicillin is ok",
  [("Wanjiru is allergic to sulfa drugs.", "U", 0)])
c(CO, "Amir", ["Amir drinks his coffee black."],
  "I take it with oat milk! black coffee is my dad's thing",
  [("Amir takes his coffee with oat milk.", "U", 0), ("Amir's father drinks his coffee black.", "A")])
c(CO, "Zora", ["Zora is 25.", "Zora lives in Belgrade."],
  "lol I'm 52, not 25, but thank you for the compliment 😂",
  [("Zora is 52.", "U", 0)])
c(CO, "Yara", ["Yara studies architecture."],
  "I study interior design, it's related but different! less math, more fabric swatches",
  [("Yara studies interior design.", "U", 0)])
c(CO, "Hyun", ["Hyun's husband is named Min-su."],
  "my husband is Min-jun, Min-su is his brother! they look alike too which doesn't help",
  [("Hyun's husband is named Min-jun.", "U", 0), ("Min-su is Min-jun's brother.", "A")])
c(CO, "Xolani", ["Xolani works at a gold mine."],
  "platinum mine, not gold. Rustenburg side",
  [("Xolani works at a platinum mine near Rustenburg.", "U", 0)])
c(CO, "Nadia", ["Nadia works as a sommelier.", "Nadia lives in Lyon."],
  "I'm a wine buyer for a restaurant group, not a sommelier, I don't serve anymore. close though!",
  [("Nadia works as a wine buyer for a restaurant group.", "U", 0)])
c(CO, "Kaito", ["Kaito's girlfriend is Aoi."],
  "Aoi is my ex, my girlfriend now is Rin 😅 you're remembering old info",
  [("Kaito's girlfriend is Rin.", "U", 0), ("Aoi is Kaito's ex-girlfriend.", "A")])
c(CO, "Inês", ["Inês's wedding is planned for June."],
  "we pushed it to September actually, venue was booked in june",
  [("Inês's wedding is planned for September.", "U", 0)])
c(CO, "Declan", ["Declan has three brothers."],
  "three sisters and one brother actually, I'm surrounded",
  [("Declan has three sisters and one brother.", "U", 0)])
c(CO, "Matthias", ["Matthias plays the trumpet in a brass band."],
  "flugelhorn, not trumpet! similar but mellower. the band leader keeps calling it trumpet too",
  [("Matthias plays the flugelhorn in a brass band.", "U", 0)])
c(CO, "Jonas", ["Jonas owns the bike shop in Freiburg."],
  "me and my partner Lea own it together actually, 50/50, wouldn't want her to feel left out haha",
  [("Jonas co-owns the bike shop in Freiburg with his partner Lea.", "U", 0)])
c(CO, "Camila", ["Camila lives in Bogotá.", "Camila is learning the ukulele."],
  "Medellín, not Bogotá! Bogotá is way too cold for me 🥶",
  [("Camila lives in Medellín.", "U", 0)])
c(CO, "Farhan", ["Farhan works as a pilot for Biman."],
  "I'm cabin crew, not a pilot lol. would love to be a pilot one day though",
  [("Farhan works as cabin crew for Biman.", "U", 0), ("Farhan would like to become a pilot.", "A")])

# ---------------- negations / stopping ----------------
c(NE, "Luca", ["Luca plays padel every Thursday.", "Luca lives alone in a flat in Milan."],
  "no more padel for me, tore my achilles. 8 weeks in a boot. kill me",
  [("Luca no longer plays padel.", "U", 0), ("Luca tore his Achilles tendon.", "A")])
c(NE, "Mbali", ["Mbali sings in the church choir."],
  "I stepped down from the choir after the wedding, just too much on my plate",
  [("Mbali no longer sings in the church choir.", "U", 0)])
c(NE, "Rafael", ["Rafael vapes."],
  "threw my vape in the bin. day 12 without it, I'm a bit of a grump",
  [("Rafael quit vaping.", "U", 0)])
c(NE, "Shira", ["Shira is on a keto diet."],
  "keto is done, I missed bread too much. just eating normal now",
  [("Shira is no longer on a keto diet.", "U", 0)])
c(NE, "Linnea", ["Linnea has a Disney+ subscription.", "Linnea studies part-time."],
  "ditched disney plus, I only kept it for the mandalorian",
  [("Linnea no longer has a Disney+ subscription.", "U", 0)])
c(NE, "Bao", [],
  "I don't work weekends anymore, finally negotiated it. Saturdays are family days now",
  [("Bao no longer works weekends.", "A"), ("Bao spends Saturdays with family.", "A")])
c(NE, "Dario", ["Dario is a member of a fantasy football league."],
  "I left the fantasy league, my team was a disgrace and the group chat was worse",
  [("Dario is no longer in a fantasy football league.", "U", 0)])
c(NE, "Eun-ji", ["Eun-ji goes to Pilates twice a week."],
  "haven't been to pilates in months, I think I'm just not doing it anymore honestly",
  [("Eun-ji no longer goes to Pilates.", "U", 0)])
c(NE, "Gaurav", ["Gaurav drinks alcohol on weekends."],
  "I'm off alcohol completely now bro, doctor said my liver numbers were bad",
  [("Gaurav no longer drinks alcohol.", "U", 0), ("Gaurav's doctor said his liver numbers were bad.", "A")])
c(NE, "Ilse", ["Ilse lives with her boyfriend Daan."],
  "Daan moved out. We're done. I'm honestly fine, it was time",
  [("Ilse no longer lives with Daan.", "U", 0), ("Ilse and Daan broke up.", "A")])
c(NE, "Kalani", [],
  "i'm not on facebook anymore fyi, dm me on whatsapp",
  [("Kalani is no longer on Facebook.", "A"), ("Kalani uses WhatsApp.", "A")])
c(NE, "Manon", ["Manon gives private French lessons."],
  "I stopped giving french lessons, my new job doesn't leave time for it",
  [("Manon no longer gives private French lessons.", "U", 0), ("Manon has a new job.", "A")])
c(NE, "Orla", ["Orla is a member of a book club."],
  "quit the book club, it was more wine than books tbh 🍷",
  [("Orla is no longer in a book club.", "U", 0)])
c(NE, "Qing", ["Qing owns a car."],
  "sold the car, with the metro line right by the new flat there's no point",
  [("Qing no longer owns a car.", "U", 0)])
c(NE, "Santiago", ["Santiago teaches guitar lessons.", "Santiago's band plays original songs."],
  "not teaching anymore, all my energy's going into the band now",
  [("Santiago no longer teaches guitar lessons.", "U", 0)])
c(NE, "Uchenna", ["Uchenna takes medication for migraines."],
  "the neurologist took me off the migraine meds, haven't had one in 4 months 🙏",
  [("Uchenna no longer takes migraine medication.", "U", 0), ("Uchenna hasn't had a migraine in 4 months.", "A")])
c(NE, "Wiremu", ["Wiremu coaches a kids' rugby team."],
  "handed the kids' team over to another dad, I couldn't do Saturdays with the polytech marking",
  [("Wiremu no longer coaches the kids' rugby team.", "U", 0)])
c(NE, "Zeynep", ["Zeynep lives in Ankara."],
  "not in Ankara anymore! long story, I'll tell you when we talk",
  [("Zeynep no longer lives in Ankara.", "U", 0)])
c(NE, "Arnav", [],
  "i don't drink coffee anymore, switched to chai full time. my mom is thrilled",
  [("Arnav no longer drinks coffee.", "A"), ("Arnav drinks chai.", "A")])
c(NE, "Catalina", ["Catalina rides her bike to work.", "Catalina works at a design studio."],
  "not biking to work anymore, too many near-misses with buses. taking the tram",
  [("Catalina no longer bikes to work.", "U", 0), ("Catalina takes the tram to work.", "A")])

# ---------------- unrelated same-topic (must ADD, not UPDATE) ----------------
c(UN, "Nadia", ["Nadia lives in Lyon."],
  "my parents just sold their place in Marseille and bought in Aix! so weird not having my childhood home",
  [("Nadia's parents moved to Aix-en-Provence.", "A"), ("Nadia's parents sold their home in Marseille.", "A")])
c(UN, "Kaito", ["Kaito works as a sous chef at an izakaya in Shibuya."],
  "also picking up shifts at a friend's food truck on sundays, extra cash for the trip",
  [("Kaito works shifts at a friend's food truck on Sundays.", "A"), ("Kaito is saving for a trip.", "A")])
c(UN, "Oluwaseun", ["Oluwaseun lives in Houston."],
  "thinking of moving to Atlanta someday, lot of my people are there. not anytime soon though",
  [("Oluwaseun is thinking of moving to Atlanta someday.", "A")])
c(UN, "Inês", ["Inês is engaged to Rui."],
  "my best friend Marta got engaged the same week! double wedding planning in the group chat 😂",
  [("Inês's best friend Marta got engaged.", "A")])
c(UN, "Sana", ["Sana works at a bank in Karachi."],
  "my husband just joined the same bank, different branch. we swore we'd never talk shop at dinner",
  [("Sana's husband works at the same bank.", "A")])
c(UN, "Adaeze", ["Adaeze is a barrister."],
  "I'm also teaching a legal writing class at the uni on fridays, tiny stipend but I love it",
  [("Adaeze teaches a legal writing class at the university on Fridays.", "A")])
c(UN, "Camila", ["Camila is learning the ukulele."],
  "my abuela used to play the tiple, that's partly why I wanted to learn string stuff",
  [("Camila's grandmother played the tiple.", "A")])
c(UN, "Tevita", ["Tevita signed with a rugby club in Brisbane for next season."],
  "my cousin Sione plays league for the Broncos, so at least I'll know someone there",
  [("Tevita's cousin Sione plays rugby league for the Broncos.", "A")])
c(UN, "Akosua", ["Akosua has short natural hair."],
  "I'm opening a little natural hair salon with my sister in Kumasi next year, that's the plan anyway",
  [("Akosua plans to open a natural hair salon with her sister in Kumasi next year.", "A")])
c(UN, "Wen", ["Wen is the vice principal at an elementary school in Taipei."],
  "I taught at a cram school in Kaohsiung for five years before this, worst hours ever",
  [("Wen taught at a cram school in Kaohsiung for five years.", "A")])
c(UN, "Mbali", ["Mbali is married to Sizwe."],
  "Sizwe's sister is getting married in December too, it's wedding season in this family",
  [("Sizwe's sister is getting married in December.", "A")])
c(UN, "Rafael", ["Rafael uses Apple Music."],
  "I also have a vinyl collection, like 300 records, mostly MPB",
  [("Rafael has a vinyl collection of about 300 records, mostly MPB.", "A")])
c(UN, "Farhan", ["Farhan weighs 82 kg."],
  "my dad's on the same diet now lol, he's lost 5 kg",
  [("Farhan's father lost 5 kg on the same diet.", "A")])
c(UN, "Bao", ["Bao has a daughter."],
  "my brother and his wife just had twins!! two boys. my daughter has cousins now 🥹",
  [("Bao's brother had twin boys.", "A")])
c(UN, "Dario", ["Dario takes the metro.", "Dario lives in Rome."],
  "I used to live in Bologna when I was studying, everyone biked there",
  [("Dario lived in Bologna while studying.", "A")])
c(UN, "Folasade", ["Folasade has two children."],
  "I'm also fostering a teenager through the agency for a few months, her name is Bisi",
  [("Folasade is fostering a teenager named Bisi.", "A")])
c(UN, "Gaurav", ["Gaurav games on a PS5."],
  "my girlfriend got a switch so now we fight over mario kart every night",
  [("Gaurav's girlfriend has a Nintendo Switch.", "A")])
c(UN, "Jaroslav", ["Jaroslav's salary is 58k a year."],
  "my wife got offered 70k at a new company, she's negotiating. she'll out-earn me, good for her",
  [("Jaroslav's wife was offered a job paying 70k.", "A")])
c(UN, "Kalani", ["Kalani mostly surfs at the North Shore."],
  "entered my first longboard competition next month at Makaha, kinda nervous",
  [("Kalani entered a longboard competition at Makaha next month.", "A")])
c(UN, "Lorenzo", ["Lorenzo is the sommelier at Trattoria Da Gino."],
  "my brother just opened his own wine bar in Trastevere, I'm helping him pick the list",
  [("Lorenzo's brother opened a wine bar in Trastevere.", "A")])
c(UN, "Manon", ["Manon is seeing Théo."],
  "Hugo (the ex) is dating my old coworker now, small world huh",
  [("Manon's ex Hugo is dating her former coworker.", "A")])
c(UN, "Paulo", ["Paulo is a mid-level developer at Nubank."],
  "I might apply for a role in their Mexico City office next year, just an idea for now",
  [("Paulo might apply for a role in Nubank's Mexico City office next year.", "A")])
c(UN, "Rania", ["Rania's daughter Yasmin goes to a Montessori school."],
  "my son's still at the public school, he didn't want to switch, he loves his friends",
  [("Rania's son goes to the public school.", "A")])
c(UN, "Tuğba", ["Tuğba works from the office full time.", "Tuğba lives in Izmir."],
  "my sister works fully remote from Bodrum, I'm so jealous",
  [("Tuğba's sister works fully remote from Bodrum.", "A")])
c(UN, "Vesna", ["Vesna has a budgie named Pero."],
  "my mother keeps chickens in her garden, so technically we're a bird family",
  [("Vesna's mother keeps chickens.", "A")])
c(UN, "Wiremu", ["Wiremu teaches carpentry at the polytechnic in Rotorua."],
  "built a waka with my uncle over the summer, first real one, 6 metres",
  [("Wiremu built a 6-metre waka with his uncle over the summer.", "A")])
c(UN, "Ximena", ["Ximena has a boyfriend."],
  "my ex from uni just got married and I found out on instagram lol",
  [("Ximena's ex from university got married.", "A")])
c(UN, "Yohannes", ["Yohannes lives in Nairobi.", "Yohannes runs marathons."],
  "thinking about doing Boston next year if I can qualify, fingers crossed",
  [("Yohannes hopes to run the Boston Marathon next year.", "A")])
c(UN, "Zeynep", ["Zeynep eats chicken but no red meat."],
  "my brother became a butcher of all things, family dinners are interesting",
  [("Zeynep's brother became a butcher.", "A")])
c(UN, "Arnav", ["Arnav's startup has 20 employees."],
  "I also angel-invested in a friend's edtech thing, small cheque but exciting",
  [("Arnav angel-invested in a friend's edtech startup.", "A")])
c(UN, "Bongani", ["Bongani is an assistant manager at PwC."],
  "my girlfriend is doing her articles at KPMG, so we're rivals at the braai 😂",
  [("Bongani's girlfriend is doing her articles at KPMG.", "A")])
c(UN, "Cormac", ["Cormac is the club treasurer."],
  "my young lad made the under-12 panel this year, proud dad",
  [("Cormac's son made the under-12 panel.", "A")])
c(UN, "Delphine", ["Delphine received a kidney transplant in September."],
  "my donor was my cousin Margaux, I owe her everything",
  [("Delphine's kidney donor was her cousin Margaux.", "A")])
c(UN, "Emeka", ["Emeka lives in Abuja."],
  "we still have the house in Port Harcourt, renting it out for now",
  [("Emeka owns a house in Port Harcourt that he rents out.", "A")])
c(UN, "Fiona", ["Fiona works as a midwife."],
  "delivered my own niece last night!!! my sister asked specially for me 😭",
  [("Fiona delivered her sister's baby.", "A"), ("Fiona's sister had a baby girl.", "A")])
c(UN, "Hamid", ["Hamid studied engineering at Isfahan University of Technology."],
  "my daughter got into Sharif for computer engineering!! we're all so proud",
  [("Hamid's daughter got into Sharif University for computer engineering.", "A")])
c(UN, "Ivana", ["Ivana's favorite band is Portishead."],
  "saw Massive Attack live in Zagreb last weekend, incredible show",
  [("Ivana saw Massive Attack live in Zagreb.", "A")])
c(UN, "Niamh", ["Niamh's dog is called Brona."],
  "we're fostering a greyhound for the rescue for a few weeks too, Brona's not sure about him",
  [("Niamh is fostering a greyhound for a few weeks.", "A")])
c(UN, "Pooja", ["Pooja is a strict vegetarian who does not eat eggs."],
  "when I was in the US for my masters I did eat eggs for a while, baking made it hard not to",
  [("Pooja ate eggs for a while during her master's in the US.", "A")])
c(UN, "Quentin", ["Quentin plays the double bass.", "Quentin plays in a jazz trio."],
  "the pianist in our trio is leaving for Montréal, so we're auditioning people",
  [("The pianist in Quentin's jazz trio is leaving for Montréal.", "A")])

# ---------------- restatements (NOOP) ----------------
c(RE, "Renata", ["Renata has lived in Lisbon since 2012.", "Renata works as a tour guide."],
  "another day guiding tourists up the hills of Alfama lol, my calves are made of steel",
  [("Renata works as a tour guide.", "N", 1)])
c(RE, "Sipho", ["Sipho supports Orlando Pirates."],
  "Bucs won!!! ☠️ Pirates forever",
  [("Sipho supports Orlando Pirates.", "N", 0)])
c(RE, "Tamar", ["Tamar works on the Waze team at Google in Tel Aviv."],
  "crunch week at waze, so if I go quiet that's why",
  [("Tamar works on the Waze team.", "N", 0)])
c(RE, "Ulla", ["Ulla's great-grandson is named Emil."],
  "little Emil visited today, my great-grandson is growing so fast",
  [("Ulla's great-grandson is named Emil.", "N", 0)])
c(RE, "Vusi", ["Vusi drives for Bolt in Pietermaritzburg."],
  "busy night on Bolt, PMB was buzzing because of the match",
  [("Vusi drives for Bolt in Pietermaritzburg.", "N", 0)])
c(RE, "Wanjiru", ["Wanjiru is a teacher.", "Wanjiru lives in Nakuru."],
  "marking 40 exam scripts tonight 😩 the joys of teaching. how's Nairobi treating you?",
  [("Wanjiru is a teacher.", "N", 0)])
c(RE, "Amir", ["Amir takes his coffee with oat milk."],
  "oat milk latte in hand, ready to face the day",
  [("Amir takes his coffee with oat milk.", "N", 0)])
c(RE, "Zora", ["Zora lives in Belgrade."],
  "Belgrade in spring is the best, you should visit me here sometime!",
  [("Zora lives in Belgrade.", "N", 0)])
c(RE, "Yara", ["Yara studies interior design."],
  "group project for my interior design course is eating my life",
  [("Yara studies interior design.", "N", 0)])
c(RE, "Hyun", ["Hyun's husband is named Min-jun.", "Hyun lives in Busan."],
  "Min-jun made kimchi jjigae tonight, my husband is a keeper",
  [("Hyun's husband is named Min-jun.", "N", 0)])
c(RE, "Xolani", ["Xolani works at a platinum mine near Rustenburg."],
  "double shift underground at the mine tomorrow, pray for me",
  [("Xolani works at a mine.", "N", 0)])
c(RE, "Nadia", ["Nadia lives in Lyon.", "Nadia works as a wine buyer for a restaurant group."],
  "buying trip for the group next week, then home to Lyon. the usual grind",
  [("Nadia works as a wine buyer for a restaurant group.", "N", 1), ("Nadia lives in Lyon.", "N", 0)])
c(RE, "Kaito", ["Kaito's girlfriend is Rin."],
  "Rin says hi! she's my gf, in case you forgot lol",
  [("Kaito's girlfriend is Rin.", "N", 0)])
c(RE, "Oluwaseun", ["Oluwaseun drives a used Toyota Camry."],
  "the camry's still running like a champ, knock on wood",
  [("Oluwaseun drives a Toyota Camry.", "N", 0)])
c(RE, "Declan", ["Declan has a mortgage."],
  "mortgage payment went out today, there goes my pay 😭",
  [("Declan has a mortgage.", "N", 0)])
c(RE, "Sana", ["Sana commutes by scooter."],
  "scootered to work in 15 mins today, best purchase ever",
  [("Sana commutes by scooter.", "N", 0)])
c(RE, "Matthias", ["Matthias plays the flugelhorn in a brass band."],
  "band practice tonight, flugelhorn polished and ready 🎺",
  [("Matthias plays the flugelhorn in a brass band.", "N", 0)])
c(RE, "Jonas", ["Jonas co-owns the bike shop in Freiburg with his partner Lea.", "Jonas lives in Freiburg."],
  "Lea and I did inventory at the shop all day. owning a business is 90% counting inner tubes",
  [("Jonas co-owns the bike shop with Lea.", "N", 0)])
c(RE, "Luca", ["Luca tore his Achilles tendon."],
  "still in the boot for the achilles, 3 more weeks",
  [("Luca tore his Achilles tendon.", "N", 0)])
c(RE, "Eun-ji", ["Eun-ji works at Kakao.", "Eun-ji lives in Pangyo."],
  "working late at Kakao again, at least home in pangyo is close",
  [("Eun-ji works at Kakao.", "N", 0), ("Eun-ji lives in Pangyo.", "N", 1)])
c(RE, "Ilse", ["Ilse is a member of a rowing club in Utrecht."],
  "up at 5:30 for rowing, the canal was like glass this morning",
  [("Ilse rows with a club in Utrecht.", "N", 0)])
c(RE, "Lorenzo", ["Lorenzo is the sommelier at Trattoria Da Gino."],
  "paired a barolo with the osso buco tonight at Gino's, the table loved it. sommelier life",
  [("Lorenzo is the sommelier at Trattoria Da Gino.", "N", 0)])
c(RE, "Nkechi", ["Nkechi attends Covenant Assembly."],
  "service at Covenant was so good today, the choir outdid themselves",
  [("Nkechi attends Covenant Assembly.", "N", 0)])
c(RE, "Orla", ["Orla has an iPhone 15."],
  "my iphone 15 battery is still going strong, touch wood",
  [("Orla has an iPhone 15.", "N", 0)])
c(RE, "Paulo", ["Paulo is a mid-level developer at Nubank.", "Paulo lives in São Paulo."],
  "São Paulo traffic means I'm glad I mostly work from home lol",
  [("Paulo lives in São Paulo.", "N", 1), ("Paulo mostly works from home.", "A")])
c(RE, "Rania", ["Rania lives in Amman."],
  "Amman is freezing this week, who knew",
  [("Rania lives in Amman.", "N", 0)])
c(RE, "Cormac", ["Cormac no longer plays Gaelic football."],
  "no, still retired from the football, just watching from the line with a flask of tea",
  [("Cormac no longer plays Gaelic football.", "N", 0)])
c(RE, "Delphine", ["Delphine lives in Lille."],
  "Lille's been grey all week, typical. I'm still here haha, not going anywhere",
  [("Delphine lives in Lille.", "N", 0)])
c(RE, "Emeka", ["Emeka's wife is named Chioma."],
  "Chioma sends her regards! she's my better half after all",
  [("Emeka's wife is named Chioma.", "N", 0)])
c(RE, "Giorgos", ["Giorgos has a 7-year-old son named Alexandros."],
  "Alexandros, my son, lost his first tooth today haha",
  [("Giorgos has a son named Alexandros.", "N", 0), ("Giorgos's son Alexandros lost his first tooth.", "A")])

# ---------------- new facts ----------------
c(NF, "Mirela", ["Mirela is a dental hygienist."],
  "guess what, I'm running for city council in Split! campaign starts next month, very scary",
  [("Mirela is running for city council in Split.", "A")])
c(NF, "Lwazi", [],
  "Sawubona! I'm Lwazi from Pietermaritzburg, I'm a electrical engineering student and I do photography on the side",
  [("Lwazi is from Pietermaritzburg.", "A"), ("Lwazi studies electrical engineering.", "A"), ("Lwazi does photography on the side.", "A")])
c(NF, "Oskar", ["Oskar works as a sound engineer."],
  "I have tinnitus, which is ironic for a sound guy. anyway how are you?",
  [("Oskar has tinnitus.", "A")])
c(NF, "Quentin", ["Quentin plays the double bass."],
  "we adopted a rabbit called Mingus, naturally",
  [("Quentin has a rabbit named Mingus.", "A")])
c(NF, "Jude", [],
  "my partner Sam and I are doing IVF, second round starting next week. keeping it quiet irl but figured I'd mention it",
  [("Jude's partner is Sam.", "A"), ("Jude and Sam are doing IVF.", "A")])
c(NF, "Ivana", ["Ivana's favorite band is Portishead."],
  "I'm finally learning to drive at 31, instructor is very patient lol",
  [("Ivana is learning to drive.", "A"), ("Ivana is 31.", "A")])
c(NF, "Giorgos", [],
  "I run a small taverna in Naxos with my wife Eleni, open May to October only",
  [("Giorgos runs a taverna in Naxos.", "A"), ("Giorgos's wife is named Eleni.", "A"), ("Giorgos's taverna is open from May to October.", "A")])
c(NF, "Hyun", ["Hyun lives in Busan."],
  "started learning to swim finally, at 40! scared of deep water since I was a kid",
  [("Hyun is learning to swim.", "A"), ("Hyun is 40.", "A"), ("Hyun is afraid of deep water.", "A")])
c(NF, "Tamar", [],
  "fyi I'm gluten free, celiac, so when we meet let's not do pizza 😅",
  [("Tamar is gluten free.", "A"), ("Tamar has celiac disease.", "A")])
c(NF, "Sipho", ["Sipho supports Orlando Pirates."],
  "my son was born last night!! Lwandle, 3.4kg. I'm a dad 😭",
  [("Sipho's son Lwandle was born.", "A")])
c(NF, "Ulla", [],
  "I'm 88 and still swim in the lake every morning, summer and winter",
  [("Ulla is 88.", "A"), ("Ulla swims in the lake every morning year-round.", "A")])
c(NF, "Renata", ["Renata works as a tour guide."],
  "I'm writing a little guidebook about Lisbon's tiles, a publisher is interested!",
  [("Renata is writing a guidebook about Lisbon's tiles.", "A")])
c(NF, "Amir", ["Amir takes his coffee with oat milk."],
  "I'm left-handed btw, that's why my handwriting looks like that lol",
  [("Amir is left-handed.", "A")])
c(NF, "Wanjiru", ["Wanjiru is a teacher."],
  "we're starting a reading club for the girls at my school, 25 signed up already!",
  [("Wanjiru started a reading club for girls at her school.", "A")])
c(NF, "Xolani", [],
  "my mother is a sangoma, so I grew up around a lot of herbs and ceremonies",
  [("Xolani's mother is a sangoma.", "A")])
c(NF, "Yara", ["Yara studies interior design."],
  "I have an internship at IKEA this summer!! so many tiny showroom kitchens",
  [("Yara has an internship at IKEA this summer.", "A")])
c(NF, "Zora", ["Zora is 52."],
  "my book club picked my novel for this month, didn't tell them I wrote it under a pen name 🤫",
  [("Zora wrote a novel under a pen name.", "A")])
c(NF, "Pooja", [],
  "I'm a classical Bharatanatyam dancer, been dancing since I was 6. performance in Chennai in Jan",
  [("Pooja is a Bharatanatyam dancer.", "A"), ("Pooja has a Bharatanatyam performance in Chennai in January.", "A")])
c(NF, "Fiona", ["Fiona lives in Paisley."],
  "I'm doing the Kiltwalk in April for the children's hospital, sponsor me? 🙏",
  [("Fiona is doing the Kiltwalk in April for a children's hospital.", "A")])
c(NF, "Niamh", [],
  "Hiya, Niamh here, I'm a vet nurse in Cork and I'm mad about sea swimming",
  [("Niamh is a vet nurse.", "A"), ("Niamh lives in Cork.", "A"), ("Niamh loves sea swimming.", "A")])

# ---------------- small talk (nothing to store) ----------------
c(ST, "Nadia", ["Nadia lives in Lyon."], "merci beaucoup! you're a star ⭐", [])
c(ST, "Kaito", [], "lmaooo stop 💀", [])
c(ST, "Sipho", ["Sipho supports Orlando Pirates."], "sharp sharp, chat later my bru", [])
c(ST, "Mbali", [], "Hi hi! long time no speak, what's new with you?", [])
c(ST, "Giorgos", [], "yes yes of course, no problem", [])
c(ST, "Tamar", ["Tamar is gluten free."], "wait what do you mean? I didn't get that", [])
c(ST, "Yohannes", [], "good night, sleep well", [])
c(ST, "Orla", [], "ah go way, seriously?? 😂", [])
c(ST, "Amir", [], "hmm ok, I'll think about it", [])
c(ST, "Linnea", ["Linnea studies part-time."], "tack! have a nice weekend 🌞", [])

# ---------------- extra tricky cases ----------------
c(UN, "Zeynep", ["Zeynep no longer lives in Ankara."],
  "my aunt just moved to Ankara from Konya, funny timing since I left",
  [("Zeynep's aunt moved to Ankara from Konya.", "A")])
c(UP, "Dario", ["Dario takes the metro.", "Dario works as an architect at a firm in Rome."],
  "new job at a studio in Milan, so I'm moving up north next month. no more Roman metro 🙏",
  [("Dario works as an architect at a studio in Milan.", "U", 1), ("Dario is moving to Milan next month.", "A")])
c(NE, "Hyun", ["Hyun is learning to swim."],
  "no longer afraid of the pool lol, also started doing cooking classes",
  [("Hyun is no longer afraid of the pool.", "A"), ("Hyun takes cooking classes.", "A")])
c(CO, "Ulla", ["Ulla is 88."],
  "oh I'm 89 now, I always forget! birthday was last month",
  [("Ulla is 89.", "U", 0)])
c(RE, "Arnav", ["Arnav no longer drinks coffee.", "Arnav drinks chai."],
  "masala chai > everything. I told you I'm done with coffee right?",
  [("Arnav drinks chai.", "N", 1), ("Arnav no longer drinks coffee.", "N", 0)])
c(NF, "Bongani", ["Bongani is an assistant manager at PwC."],
  "Hey hey! Weekend was lekker, we went hiking in the Drakensberg, first time for me. you?",
  [("Bongani went hiking in the Drakensberg for the first time.", "A")])

print(b.dump(os.path.join(os.path.dirname(os.path.abspath(__file__)), "updates_heldout.jsonl")))
