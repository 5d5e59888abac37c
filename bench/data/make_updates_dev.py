"""Development update set: hand-written cases, one call per case. Run: python bench/data/make_updates_dev.py"""
import os
import sys

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from _updates_lib import Builder  # noqa: E402

UP, CO, NE, UN, RE, NF, ST = ("update", "correction", "negation", "unrelated_same_topic",
                              "restatement", "new_fact", "small_talk")
b = Builder("dev", "2023-01-03T09:00:00")
c = b.c

# ---------------- updates ----------------
c(UP, "Dana", ["Dana lives in Boston.", "Dana works as a nurse."],
  "Big news: I moved to Denver last week, I no longer live in Boston",
  [("Dana lives in Denver.", "U", 0)])
c(UP, "Priya", ["Priya works as a software engineer at Infosys.", "Priya lives in Pune."],
  "hey!! so I finally quit infosys lol. starting at Razorpay monday as a senior backend dev 🎉",
  [("Priya works as a senior backend developer at Razorpay.", "U", 0)])
c(UP, "Kenji", ["Kenji has a dog named Mochi.", "Kenji lives in Osaka."],
  "Sad update, Mochi passed away in March. We adopted a cat called Sora a few weeks ago tho, she's a menace",
  [("Kenji's dog Mochi died in March.", "U", 0), ("Kenji adopted a cat named Sora.", "A")])
c(UP, "Olusegun", ["Olusegun is dating Amara.", "Olusegun works as an accountant."],
  "Amara and I got engaged on saturday!! still can't believe it",
  [("Olusegun is engaged to Amara.", "U", 0)])
c(UP, "María", ["María lives in Seville.", "María teaches Spanish at a high school."],
  "Hola! Quick life update: we relocated to Valencia in June for my husband's job. I'm still teaching, just at a different school now",
  [("María lives in Valencia.", "U", 0), ("María teaches at a different high school in Valencia.", "U", 1), ("María's husband got a job in Valencia.", "A")])
c(UP, "Liam", ["Liam's favorite band is Arctic Monkeys."],
  "ngl I've been listening to Fontaines D.C. nonstop, they've replaced the arctic monkeys as my fave band",
  [("Liam's favorite band is Fontaines D.C.", "U", 0)])
c(UP, "Fatima", ["Fatima drives a Toyota Corolla.", "Fatima lives in Dubai."],
  "sold the corolla finally. got a tesla model 3, charging it is a whole new adventure haha",
  [("Fatima drives a Tesla Model 3.", "U", 0)])
c(UP, "Wei", ["Wei is a PhD student in chemistry at Tsinghua."],
  "Defended my thesis last month!! so I'm Dr. Wei now 😅 starting a postdoc at ETH Zurich in the fall",
  [("Wei completed a PhD in chemistry at Tsinghua.", "U", 0), ("Wei will start a postdoc at ETH Zurich in the fall.", "A")])
c(UP, "Sven", ["Sven runs 20 km a week.", "Sven lives in Gothenburg."],
  "Training for the marathon so I'm up to about 50k a week now, legs are dead",
  [("Sven runs about 50 km a week.", "U", 0), ("Sven is training for a marathon.", "A")])
c(UP, "Aisha", ["Aisha is single.", "Aisha works as a pharmacist."],
  "So... I'm seeing someone! His name's Bilal, we met at my cousin's wedding. It's early days but he's lovely",
  [("Aisha is dating Bilal.", "U", 0), ("Aisha met Bilal at her cousin's wedding.", "A")])
c(UP, "Tomás", ["Tomás works as a barista at Blue Bottle."],
  "Got promoted to shift manager at blue bottle! more money, more headaches lmao",
  [("Tomás works as a shift manager at Blue Bottle.", "U", 0)])
c(UP, "Yuki", ["Yuki lives with her parents in Sapporo.", "Yuki studies nursing."],
  "finally moved out of my parents' place!! got a tiny studio near the university, still in sapporo",
  [("Yuki lives in a studio near the university in Sapporo.", "U", 0)])
c(UP, "Chidi", ["Chidi's phone is an iPhone 11."],
  "my iphone 11 died for good so i switched to a pixel 8. android is weird after years of apple",
  [("Chidi uses a Pixel 8 phone.", "U", 0)])
c(UP, "Anya", ["Anya is learning Italian.", "Anya works as a graphic designer."],
  "I dropped italian, wasn't clicking. started japanese on duolingo instead, 40 day streak so far!",
  [("Anya is learning Japanese.", "U", 0), ("Anya has a 40-day Duolingo streak in Japanese.", "A")])
c(UP, "Rahul", ["Rahul lives in Bangalore.", "Rahul works at Flipkart.", "Rahul has a sister named Kavya."],
  "Ok so double whammy: left Flipkart for a startup called Zepto AND we shifted to Mumbai since the office is there. Chaos 😵",
  [("Rahul works at Zepto.", "U", 1), ("Rahul lives in Mumbai.", "U", 0)])
c(UP, "Mei", ["Mei is vegetarian."],
  "I've gone fully vegan since January, it's been easier than I expected honestly",
  [("Mei is vegan.", "U", 0)])
c(UP, "Jamal", ["Jamal coaches his son's basketball team.", "Jamal's son is named Malik."],
  "Malik aged out of the youth league so I'm coaching his little sister's soccer team now. very different vibe",
  [("Jamal coaches his daughter's soccer team.", "U", 0)])
c(UP, "Ingrid", ["Ingrid's favorite food is sushi.", "Ingrid lives in Oslo."],
  "After that trip to Naples I'm convinced pizza is the best food on earth, sorry sushi",
  [("Ingrid's favorite food is pizza.", "U", 0), ("Ingrid took a trip to Naples.", "A")])
c(UP, "Diego", ["Diego plays guitar in a band called Los Tigres."],
  "los tigres broke up 💀 but me and the drummer started a new thing called Humo, same genre kinda",
  [("Diego plays in a band called Humo.", "U", 0), ("Diego's former band Los Tigres broke up.", "A")])
c(UP, "Leila", ["Leila is married to Omar.", "Leila has two kids."],
  "It's been a hard year. Omar and I finalized the divorce in August. The kids are doing ok, we share custody",
  [("Leila is divorced from Omar.", "U", 0), ("Leila and Omar share custody of their kids.", "A")])
c(UP, "Hiroshi", ["Hiroshi works night shifts at the factory."],
  "good news, they moved me to day shifts at the factory! I can finally sleep like a human",
  [("Hiroshi works day shifts at the factory.", "U", 0)])
c(UP, "Zanele", ["Zanele lives in Johannesburg.", "Zanele works as a lawyer."],
  "Writing from Cape Town! Moved here two weeks ago, the mountain views are unreal. Same firm, they have an office here",
  [("Zanele lives in Cape Town.", "U", 0)])
c(UP, "Pavel", ["Pavel has 2 cats."],
  "we took in another stray so it's 3 cats now, my wife says that's the limit 😂",
  [("Pavel has 3 cats.", "U", 0)])
c(UP, "Nour", ["Nour's favorite TV show is Breaking Bad."],
  "Succession is now my all time favorite show, sorry walter white",
  [("Nour's favorite TV show is Succession.", "U", 0)])
c(UP, "Carlos", ["Carlos is a student at UCLA."],
  "graduated!!! 🎓 officially a UCLA alum. job hunting now, send help",
  [("Carlos graduated from UCLA.", "U", 0), ("Carlos is looking for a job.", "A")])
c(UP, "Siobhan", ["Siobhan works as a teacher in Galway.", "Siobhan lives in Galway."],
  "I've left teaching altogether, I'm retraining as a counsellor. Still in Galway though, couldn't leave the sea",
  [("Siobhan is retraining as a counsellor.", "U", 0), ("Siobhan lives in Galway.", "N", 1)])
c(UP, "Arjun", ["Arjun's manager is Meera."],
  "Meera left the company so now I report to some guy called Trevor. he seems fine?",
  [("Arjun's manager is Trevor.", "U", 0), ("Meera left Arjun's company.", "A")])
c(UP, "Elif", ["Elif lives in Istanbul.", "Elif is learning German."],
  "Selam! I'm in Berlin now, moved for my master's. That's why I was doing all the german lessons haha",
  [("Elif lives in Berlin.", "U", 0), ("Elif is doing a master's degree in Berlin.", "A")])
c(UP, "Mateo", ["Mateo drinks coffee every morning."],
  "Switched from coffee to matcha in the mornings, my anxiety is so much better",
  [("Mateo drinks matcha every morning.", "U", 0)])
c(UP, "Keira", ["Keira is 29 years old."],
  "turned 30 yesterday 🥳 hungover but thriving",
  [("Keira is 30 years old.", "U", 0)])
c(UP, "Björn", ["Björn works remotely for Spotify.", "Björn lives in Uppsala."],
  "They called everyone back to the office, so I commute to Stockholm 3 days a week now. Ugh",
  [("Björn works at the Spotify office in Stockholm three days a week.", "U", 0)])
c(UP, "Thandiwe", ["Thandiwe is pregnant."],
  "She's here! Our daughter Lerato was born on the 4th, 3.2kg and perfect ❤️",
  [("Thandiwe's daughter Lerato was born.", "U", 0)])
c(UP, "Ahmed", ["Ahmed is training for his driving test."],
  "PASSED MY DRIVING TEST 🚗🚗 second try but who's counting",
  [("Ahmed passed his driving test.", "U", 0)])
c(UP, "Sofia", ["Sofia's hair is long and brown."],
  "I did the thing, chopped it all off into a bob and dyed it red lol. My mom almost fainted",
  [("Sofia has a red bob haircut.", "U", 0)])
c(UP, "Nikolai", ["Nikolai plays chess online at a 1400 rating."],
  "cracked 1600 on lichess last night!! months of tactics puzzles paid off",
  [("Nikolai's online chess rating is 1600.", "U", 0)])
c(UP, "Grace", ["Grace rents an apartment in Chicago."],
  "We closed on a house in Evanston!! homeowners now, which mostly means fixing things",
  [("Grace owns a house in Evanston.", "U", 0)])
c(UP, "Ravi", ["Ravi is a junior doctor at King's College Hospital."],
  "started my cardiology registrar post this week, still at King's. the hours are brutal",
  [("Ravi is a cardiology registrar at King's College Hospital.", "U", 0)])
c(UP, "Hannah", ["Hannah's best friend is Chloe."],
  "Chloe and I don't really talk anymore after the wedding drama. honestly Jess is my best friend these days",
  [("Hannah's best friend is Jess.", "U", 0)])
c(UP, "Kwame", ["Kwame uses a Windows laptop for work."],
  "work finally gave me a macbook, goodbye windows updates forever",
  [("Kwame uses a MacBook for work.", "U", 0)])
c(UP, "Lucía", ["Lucía is saving for a trip to Japan."],
  "Booked the Japan trip!! flying to Tokyo on April 10th 🇯🇵",
  [("Lucía booked a trip to Tokyo for April 10th.", "U", 0)])
c(UP, "Oliver", ["Oliver's gym is Anytime Fitness.", "Oliver works out 4 times a week."],
  "cancelled anytime fitness, joined a climbing gym instead. still going like 4x a week",
  [("Oliver goes to a climbing gym.", "U", 0), ("Oliver works out 4 times a week.", "N", 1)])
c(UP, "Amara", ["Amara works as a nurse in Lagos."],
  "Actually I just moved to Toronto, new job at a hospital there, nursing still",
  [("Amara works as a nurse at a hospital in Toronto.", "U", 0), ("Amara lives in Toronto.", "A")])
c(UP, "Jin", ["Jin's daughter is in kindergarten."],
  "can't believe my baby started first grade today 😭",
  [("Jin's daughter is in first grade.", "U", 0)])
c(UP, "Fernanda", ["Fernanda's favorite author is Isabel Allende."],
  "been devouring Clarice Lispector, she's dethroned Allende for me tbh",
  [("Fernanda's favorite author is Clarice Lispector.", "U", 0)])
c(UP, "Marcus", ["Marcus is a sergeant in the army."],
  "Got out of the army in May. Doing IT support for a hospital now, way less yelling",
  [("Marcus left the army.", "U", 0), ("Marcus works in IT support at a hospital.", "A")])
c(UP, "Ayesha", ["Ayesha's phone number ends in 4471."],
  "new number btw, the old one ending 4471 is dead. I'll text you from the new one",
  [("Ayesha has a new phone number.", "U", 0)])
c(UP, "Dmitri", ["Dmitri lives in Kyiv.", "Dmitri has a brother named Andriy."],
  "we're in Warsaw now, have been since spring. Andriy stayed in Kyiv",
  [("Dmitri lives in Warsaw.", "U", 0), ("Dmitri's brother Andriy lives in Kyiv.", "A")])
c(UP, "Emma", ["Emma is allergic to cats.", "Emma wants a dog."],
  "we got the puppy!!! a corgi named Biscuit, I'm obsessed",
  [("Emma has a corgi named Biscuit.", "U", 1)])
c(UP, "Tariq", ["Tariq supports Arsenal."],
  "Mate I've given up on Arsenal, I'm a Brentford fan now, at least they're fun to watch",
  [("Tariq supports Brentford.", "U", 0)])
c(UP, "Ananya", ["Ananya is in a long-distance relationship with Rohan.", "Ananya lives in Delhi."],
  "Rohan finally moved to Delhi!! no more long distance 🥹 we're living together now",
  [("Ananya lives with Rohan in Delhi.", "U", 0), ("Rohan moved to Delhi.", "A")])

# ---------------- corrections ----------------
c(CO, "Beatriz", ["Beatriz lives in Porto.", "Beatriz works as an architect."],
  "oh wait I think I said Porto earlier? it's Braga actually, Porto is where I studied",
  [("Beatriz lives in Braga.", "U", 0), ("Beatriz studied in Porto.", "A")])
c(CO, "Connor", ["Connor's brother is named Sean."],
  "lol no my brother's Shane not Sean, autocorrect strikes again",
  [("Connor's brother is named Shane.", "U", 0)])
c(CO, "Mariam", ["Mariam has three children."],
  "Sorry, just to correct myself — it's two kids, not three. The third one I mentioned is my niece who stays with us a lot",
  [("Mariam has two children.", "U", 0), ("Mariam's niece often stays with her.", "A")])
c(CO, "Haruto", ["Haruto works at Sony."],
  "Actually it's Sony Interactive, the PlayStation side, not Sony Electronics. Common mixup",
  [("Haruto works at Sony Interactive Entertainment.", "U", 0)])
c(CO, "Ngozi", ["Ngozi's birthday is on June 12."],
  "my bday is the 21st of June not the 12th haha I typo'd",
  [("Ngozi's birthday is on June 21.", "U", 0)])
c(CO, "Erik", ["Erik drives a Volvo XC60.", "Erik lives in Malmö."],
  "correction: it's an XC40, the smaller one. the 60 was my dad's",
  [("Erik drives a Volvo XC40.", "U", 0), ("Erik's dad drove a Volvo XC60.", "A")])
c(CO, "Valentina", ["Valentina is a vegetarian."],
  "I'm not actually vegetarian, I eat fish! pescatarian I guess. People always get it wrong",
  [("Valentina is pescatarian.", "U", 0)])
c(CO, "Samir", ["Samir has a daughter named Lina."],
  "Small thing - Lina is my niece, my sister's girl. I don't have kids (yet 😅)",
  [("Lina is Samir's niece.", "U", 0), ("Samir has no children.", "A")])
c(CO, "Chloe", ["Chloe teaches math at Lincoln High."],
  "I teach physics, not math! easy mistake, same department",
  [("Chloe teaches physics at Lincoln High.", "U", 0)])
c(CO, "Adebayo", ["Adebayo is 34 years old.", "Adebayo plays football on Sundays."],
  "haha I wish I was 34, I'm 43. Still playing sunday football though, knees permitting",
  [("Adebayo is 43 years old.", "U", 0), ("Adebayo plays football on Sundays.", "N", 1)])
c(CO, "Mina", ["Mina's cat is named Tofu."],
  "her name is Tofu? no no, it's Mochi! Tofu was the hamster I had as a kid",
  [("Mina's cat is named Mochi.", "U", 0), ("Mina had a hamster named Tofu as a child.", "A")])
c(CO, "Lars", ["Lars works as a civil engineer in Copenhagen."],
  "I think there was a misunderstanding, I'm in Aarhus, not Copenhagen. Copenhagen is the HQ",
  [("Lars works as a civil engineer in Aarhus.", "U", 0)])
c(CO, "Rosa", ["Rosa's favorite color is blue."],
  "green!! my favorite color is green, I said my ROOM is blue lol",
  [("Rosa's favorite color is green.", "U", 0), ("Rosa's room is blue.", "A")])
c(CO, "Kofi", ["Kofi studied economics at Legon."],
  "nah I did political science at Legon, econ was my minor",
  [("Kofi studied political science at Legon.", "U", 0), ("Kofi minored in economics.", "A")])
c(CO, "Isabelle", ["Isabelle married Pierre in 2015."],
  "We married in 2017 actually, 2015 is when we got engaged. Time flies!",
  [("Isabelle married Pierre in 2017.", "U", 0), ("Isabelle and Pierre got engaged in 2015.", "A")])
c(CO, "Yusuf", ["Yusuf is allergic to peanuts."],
  "it's tree nuts I'm allergic to, peanuts are fine weirdly. walnuts are the worst",
  [("Yusuf is allergic to tree nuts.", "U", 0)])
c(CO, "Greta", ["Greta has lived in Vienna for ten years."],
  "more like six years in Vienna, I moved in 2017. feels longer tho",
  [("Greta has lived in Vienna for six years.", "U", 0), ("Greta moved to Vienna in 2017.", "A")])
c(CO, "Javier", ["Javier's wife is named Carmen.", "Javier works as a chef."],
  "jaja no, Carmen is my sister! my wife is Lucía. Carmen runs the restaurant with me",
  [("Javier's wife is named Lucía.", "U", 0), ("Carmen is Javier's sister.", "A"), ("Carmen runs a restaurant with Javier.", "A")])
c(CO, "Aaliyah", ["Aaliyah plays the violin."],
  "it's viola actually 🎻 everyone thinks violin, it's the bigger one",
  [("Aaliyah plays the viola.", "U", 0)])
c(CO, "Henrik", ["Henrik's son is studying medicine."],
  "Sorry, should clarify, my son studies veterinary medicine, not human. Animals are his thing",
  [("Henrik's son is studying veterinary medicine.", "U", 0)])
c(CO, "Precious", ["Precious lives in Harare."],
  "I'm from Harare but I live in Bulawayo now, been here since uni",
  [("Precious lives in Bulawayo.", "U", 0), ("Precious is from Harare.", "A")])
c(CO, "Takeshi", ["Takeshi's favorite anime is Naruto."],
  "Naruto's fine but my real favourite is Mushishi, I just mentioned naruto bc my kid watches it",
  [("Takeshi's favorite anime is Mushishi.", "U", 0), ("Takeshi's kid watches Naruto.", "A")])
c(CO, "Olga", ["Olga works night shifts at a bakery."],
  "it's early mornings at the bakery, 4am starts, not nights. though 4am kinda is night lol",
  [("Olga works early morning shifts at a bakery starting at 4am.", "U", 0)])
c(CO, "Daniel", ["Daniel's dog is a golden retriever."],
  "Rufus is a labrador actually, yellow lab. People confuse them all the time",
  [("Daniel's dog Rufus is a yellow labrador.", "U", 0)])
c(CO, "Sakura", ["Sakura has a younger brother."],
  "older brother! Ren is 3 years older than me. I'm the baby of the family",
  [("Sakura has an older brother named Ren.", "U", 0), ("Sakura is the youngest in her family.", "A")])
c(CO, "Musa", ["Musa works for MTN.", "Musa lives in Abuja."],
  "I said MTN before but I meant Airtel, I always mix them up 🤦🏾‍♂️ still in Abuja",
  [("Musa works for Airtel.", "U", 0), ("Musa lives in Abuja.", "N", 1)])
c(CO, "Clara", ["Clara's husband is a dentist."],
  "no wait, Tom's an orthodontist, he gets very touchy if you call him a dentist 😂",
  [("Clara's husband Tom is an orthodontist.", "U", 0)])
c(CO, "Vikram", ["Vikram runs a bakery in Chennai."],
  "small correction, it's a sweet shop not a bakery, mithai mostly. Chennai yes",
  [("Vikram runs a sweet shop in Chennai.", "U", 0)])
c(CO, "Amelia", ["Amelia's flight to Lisbon is on May 3."],
  "ugh I got the date wrong, my Lisbon flight is May 13 not May 3. almost went to the airport 10 days early",
  [("Amelia's flight to Lisbon is on May 13.", "U", 0)])
c(CO, "Joon", ["Joon is a Samsung engineer.", "Joon has two daughters."],
  "haha I'm in marketing at Samsung, not engineering. my wife is the engineer",
  [("Joon works in marketing at Samsung.", "U", 0), ("Joon's wife is an engineer.", "A")])

# ---------------- negations / stopping ----------------
c(NE, "Patrick", ["Patrick smokes.", "Patrick works as an electrician."],
  "6 months smoke free today 💪 never touching them again",
  [("Patrick no longer smokes.", "U", 0)])
c(NE, "Amina", ["Amina plays tennis on weekends."],
  "I had to give up tennis, my shoulder's shot. physio says maybe swimming",
  [("Amina no longer plays tennis.", "U", 0), ("Amina has a shoulder injury.", "A")])
c(NE, "Lukas", ["Lukas is a member of the choir at St. Mary's."],
  "I left the choir, the new director and I didn't get along",
  [("Lukas is no longer in the choir at St. Mary's.", "U", 0)])
c(NE, "Ifeoma", ["Ifeoma drinks alcohol socially.", "Ifeoma lives in Enugu."],
  "oh I don't drink anymore, been sober about a year now. mocktails are underrated",
  [("Ifeoma no longer drinks alcohol.", "U", 0)])
c(NE, "Ethan", ["Ethan has a Netflix subscription."],
  "cancelled netflix, nothing good on and the price keeps going up",
  [("Ethan no longer has a Netflix subscription.", "U", 0)])
c(NE, "Hana", ["Hana is vegetarian.", "Hana lives in Prague."],
  "confession: I'm not vegetarian anymore, I started eating meat again when I got anemic",
  [("Hana is no longer vegetarian.", "U", 0), ("Hana was anemic.", "A")])
c(NE, "Gabriel", ["Gabriel volunteers at the food bank on Tuesdays."],
  "I stopped doing Tuesdays at the food bank, new job schedule made it impossible :(",
  [("Gabriel no longer volunteers at the food bank.", "U", 0), ("Gabriel has a new job.", "A")])
c(NE, "Noura", ["Noura is on Instagram a lot."],
  "deleted instagram off my phone entirely. best decision this year",
  [("Noura deleted Instagram.", "U", 0)])
c(NE, "Stefan", ["Stefan owns a motorcycle."],
  "sold the bike after the accident, wife's orders. I'm fine btw just a broken wrist",
  [("Stefan no longer owns a motorcycle.", "U", 0), ("Stefan broke his wrist in an accident.", "A")])
c(NE, "Zoe", [],
  "fun fact I don't eat gluten anymore, turns out I'm celiac",
  [("Zoe no longer eats gluten.", "A"), ("Zoe has celiac disease.", "A")])
c(NE, "Rashid", ["Rashid is learning to play the oud.", "Rashid works as a taxi driver."],
  "I gave up the oud, no time with all the extra shifts driving",
  [("Rashid no longer learns the oud.", "U", 0), ("Rashid works extra shifts as a driver.", "A")])
c(NE, "Ji-woo", ["Ji-woo is dating Minho."],
  "minho and I broke up 💔 it was mutual I guess. I'm ok",
  [("Ji-woo is no longer dating Minho.", "U", 0)])
c(NE, "Charlotte", ["Charlotte works at Deloitte."],
  "So I'm officially unemployed lol. Left Deloitte Friday, taking the summer off before looking",
  [("Charlotte no longer works at Deloitte.", "U", 0), ("Charlotte is taking the summer off.", "A")])
c(NE, "Abdullah", ["Abdullah plays Call of Duty every night."],
  "I barely game anymore honestly, maybe once a month. baby takes all the time 👶",
  [("Abdullah rarely plays video games anymore.", "U", 0), ("Abdullah has a baby.", "A")])
c(NE, "Freya", ["Freya lives in Edinburgh."],
  "I don't live in Edinburgh anymore, haven't decided where I'm settling yet. staying with friends for now",
  [("Freya no longer lives in Edinburgh.", "U", 0), ("Freya is staying with friends.", "A")])
c(NE, "Carlos", ["Carlos drinks coffee every morning.", "Carlos is a student."],
  "I quit caffeine completely, the headaches the first week were insane",
  [("Carlos no longer drinks coffee.", "U", 0)])
c(NE, "Leon", [],
  "I no longer do crossfit, just so you know. the cult vibes got to me",
  [("Leon no longer does CrossFit.", "A")])
c(NE, "Esi", ["Esi has a roommate named Abena."],
  "Abena moved out last month so I live alone now. so quiet!",
  [("Esi no longer has a roommate.", "U", 0), ("Esi lives alone.", "A")])
c(NE, "Viktor", ["Viktor is a member of the Labour Party."],
  "I let my party membership lapse, not a member of anything these days",
  [("Viktor is no longer a member of the Labour Party.", "U", 0)])
c(NE, "Ayumi", ["Ayumi takes piano lessons.", "Ayumi is a nurse."],
  "no more piano lessons for me, teacher retired. I still play at home tho!",
  [("Ayumi no longer takes piano lessons.", "U", 0), ("Ayumi plays piano at home.", "A")])

# ---------------- unrelated same-topic (must ADD, not UPDATE) ----------------
c(UN, "Dana", ["Dana works as a nurse.", "Dana lives in Denver."],
  "my sister just became a nurse too!! so proud of her, she passed her boards monday",
  [("Dana's sister became a nurse.", "A")])
c(UN, "Priya", ["Priya works as a senior backend developer at Razorpay."],
  "I also started volunteering at the animal shelter on sundays, the dogs are the best part of my week",
  [("Priya volunteers at an animal shelter on Sundays.", "A")])
c(UN, "Kenji", ["Kenji lives in Osaka."],
  "my best friend Taro just moved to Tokyo, I'm gonna miss him so much",
  [("Kenji's best friend Taro moved to Tokyo.", "A")])
c(UN, "Olusegun", ["Olusegun lives in Lagos."],
  "I might move to Accra next year if the transfer comes through, we'll see",
  [("Olusegun might move to Accra next year.", "A")])
c(UN, "Grace", ["Grace owns a house in Evanston."],
  "I lived in Paris for a year in college, miss the bakeries so much",
  [("Grace lived in Paris for a year during college.", "A")])
c(UN, "Wei", ["Wei has a cat named Dumpling."],
  "my parents got a dog! a shiba called Kiki. Dumpling is not impressed lol",
  [("Wei's parents got a shiba inu named Kiki.", "A")])
c(UN, "Sven", ["Sven works as a software developer at Volvo."],
  "on the side I've started doing freelance web design, just a couple of clients so far",
  [("Sven does freelance web design on the side.", "A")])
c(UN, "Aisha", ["Aisha is dating Bilal."],
  "my brother Yasin just got engaged! wedding's next spring, so much planning",
  [("Aisha's brother Yasin got engaged.", "A"), ("Yasin's wedding is next spring.", "A")])
c(UN, "Tomás", ["Tomás likes jazz."],
  "been getting into bossa nova lately, Jobim especially. still love jazz obviously",
  [("Tomás has been getting into bossa nova, especially Jobim.", "A")])
c(UN, "Liam", ["Liam lives in Dublin.", "Liam works as a chef."],
  "my girlfriend's moving to Cork for her new job, we'll be long distance for a while ugh",
  [("Liam's girlfriend is moving to Cork for a new job.", "A")])
c(UN, "María", ["María speaks Spanish and English."],
  "I'm thinking about learning French next, maybe in september?",
  [("María is thinking about learning French.", "A")])
c(UN, "Fatima", ["Fatima drives a Tesla Model 3."],
  "my husband bought a motorbike, I'm terrified every time he takes it out",
  [("Fatima's husband bought a motorbike.", "A")])
c(UN, "Chidi", ["Chidi works as a data analyst at a bank."],
  "my dad retired from the bank last week after 35 years! big party on saturday",
  [("Chidi's father retired from a bank after 35 years.", "A")])
c(UN, "Anya", ["Anya is learning Japanese."],
  "my son started learning Korean because of kpop lol, the house is full of languages",
  [("Anya's son is learning Korean.", "A")])
c(UN, "Rahul", ["Rahul lives in Mumbai."],
  "we're looking at flats in Thane, rent's cheaper. haven't decided anything",
  [("Rahul is looking at flats in Thane.", "A")])
c(UN, "Mei", ["Mei is vegan."],
  "My roommate went vegetarian after watching a documentary, so dinner is easier now",
  [("Mei's roommate became vegetarian.", "A")])
c(UN, "Jamal", ["Jamal coaches his daughter's soccer team."],
  "also joined a rec basketball league myself, old man hoops on thursdays 😂",
  [("Jamal plays in a recreational basketball league on Thursdays.", "A")])
c(UN, "Ingrid", ["Ingrid's favorite food is pizza."],
  "I hate olives btw, can't stand them on anything",
  [("Ingrid dislikes olives.", "A")])
c(UN, "Diego", ["Diego plays in a band called Humo."],
  "I'm also learning piano, want to write songs on keys too",
  [("Diego is learning piano.", "A")])
c(UN, "Zanele", ["Zanele lives in Cape Town.", "Zanele works as a lawyer."],
  "I grew up in Soweto, my mom still lives there. I visit every few months",
  [("Zanele grew up in Soweto.", "A"), ("Zanele's mother lives in Soweto.", "A")])
c(UN, "Pavel", ["Pavel has 3 cats."],
  "my neighbour's cat had kittens and they want me to take one, absolutely not haha",
  [("Pavel's neighbour's cat had kittens.", "A")])
c(UN, "Nour", ["Nour works as a journalist at Al Jazeera."],
  "I've been offered a job at the BBC but honestly not sure I'll take it",
  [("Nour was offered a job at the BBC.", "A")])
c(UN, "Siobhan", ["Siobhan is retraining as a counsellor."],
  "I worked as a waitress for years before I ever taught, feels like another life",
  [("Siobhan worked as a waitress for years before teaching.", "A")])
c(UN, "Elif", ["Elif lives in Berlin."],
  "visited my cousin in Munich last weekend, he just moved there from Ankara",
  [("Elif's cousin moved to Munich from Ankara.", "A"), ("Elif visited her cousin in Munich.", "A")])
c(UN, "Mateo", ["Mateo drinks matcha every morning."],
  "I do still have coffee when I'm at my grandma's, she'd be offended otherwise lol",
  [("Mateo drinks coffee at his grandmother's house.", "A")])
c(UN, "Keira", ["Keira works as a physiotherapist."],
  "started a part time MBA in the evenings, no idea how I'll survive",
  [("Keira started a part-time MBA.", "A")])
c(UN, "Björn", ["Björn lives in Uppsala."],
  "we bought a summer cabin up near Östersund, can't wait for july",
  [("Björn bought a summer cabin near Östersund.", "A")])
c(UN, "Ahmed", ["Ahmed passed his driving test."],
  "my little brother failed his theory test lol, I'm never letting him forget it",
  [("Ahmed's younger brother failed his driving theory test.", "A")])
c(UN, "Nikolai", ["Nikolai's online chess rating is 1600."],
  "played my first over the board tournament last weekend, got 3/5",
  [("Nikolai played his first over-the-board chess tournament and scored 3 out of 5.", "A")])
c(UN, "Ravi", ["Ravi is a cardiology registrar at King's College Hospital."],
  "my wife just got a consultant job at Guy's! we're a medical household lol",
  [("Ravi's wife got a consultant job at Guy's Hospital.", "A")])
c(UN, "Hannah", ["Hannah's best friend is Jess."],
  "Jess is moving to Melbourne next month 😭 I'm devastated",
  [("Hannah's best friend Jess is moving to Melbourne next month.", "A")])
c(UN, "Kwame", ["Kwame uses a MacBook for work."],
  "bought myself a gaming PC for home, a windows machine lol, the irony",
  [("Kwame bought a Windows gaming PC for home.", "A")])
c(UN, "Oliver", ["Oliver goes to a climbing gym."],
  "if my knee holds up I'd like to try outdoor climbing in the Peak District this summer",
  [("Oliver would like to try outdoor climbing in the Peak District this summer.", "A")])
c(UN, "Amara", ["Amara works as a nurse at a hospital in Toronto."],
  "I used to work in a pharmacy back in Lagos before nursing school",
  [("Amara worked in a pharmacy in Lagos before nursing school.", "A")])
c(UN, "Marcus", ["Marcus works in IT support at a hospital."],
  "my buddy from the unit just got a job at the same hospital, small world",
  [("Marcus's friend from the army got a job at the same hospital.", "A")])
c(UN, "Dmitri", ["Dmitri lives in Warsaw."],
  "I'm flying to Lisbon for a conference next week, first time in Portugal",
  [("Dmitri is flying to Lisbon for a conference next week.", "A")])
c(UN, "Emma", ["Emma has a corgi named Biscuit.", "Emma is allergic to cats."],
  "my mom adopted two cats, so visiting her is now a sneeze-fest 🤧",
  [("Emma's mother adopted two cats.", "A")])
c(UN, "Tariq", ["Tariq supports Brentford."],
  "my son's gone and become a Chelsea fan, where did I go wrong",
  [("Tariq's son is a Chelsea fan.", "A")])
c(UN, "Ananya", ["Ananya lives with Rohan in Delhi."],
  "Rohan's parents are moving in with us for the winter, pray for me",
  [("Rohan's parents are moving in with Ananya and Rohan for the winter.", "A")])
c(UN, "Lucía", ["Lucía booked a trip to Tokyo for April 10th."],
  "if I have enough days left I'd like to add Seoul to the trip, not booked yet",
  [("Lucía would like to add Seoul to her trip.", "A")])

# ---------------- restatements (NOOP) ----------------
c(RE, "Dana", ["Dana lives in Denver.", "Dana works as a nurse."],
  "yeah like I said, Denver's home now. loving the mountains",
  [("Dana lives in Denver.", "N", 0)])
c(RE, "Priya", ["Priya volunteers at an animal shelter on Sundays."],
  "off to the shelter, it's sunday so puppy time 🐶",
  [("Priya volunteers at an animal shelter on Sundays.", "N", 0)])
c(RE, "Kenji", ["Kenji adopted a cat named Sora.", "Kenji lives in Osaka."],
  "Sora knocked my coffee off the table again. this cat I swear",
  [("Kenji has a cat named Sora.", "N", 0)])
c(RE, "Olusegun", ["Olusegun is engaged to Amara.", "Olusegun works as an accountant."],
  "tax season is killing me, being an accountant in April is no joke",
  [("Olusegun works as an accountant.", "N", 1)])
c(RE, "Mei", ["Mei is vegan."],
  "any good vegan places near you? I'm always hunting for new spots since I don't eat any animal products",
  [("Mei is vegan.", "N", 0)])
c(RE, "Liam", ["Liam works as a chef.", "Liam lives in Dublin."],
  "long day in the kitchen, 14 hour shift. being a chef is not glamorous lads",
  [("Liam works as a chef.", "N", 0)])
c(RE, "Fatima", ["Fatima lives in Dubai."],
  "it's 45 degrees here in Dubai today, I'm melting",
  [("Fatima lives in Dubai.", "N", 0)])
c(RE, "Sven", ["Sven is training for a marathon.", "Sven lives in Gothenburg."],
  "marathon training update: still training, still hurting 😅",
  [("Sven is training for a marathon.", "N", 0)])
c(RE, "Aisha", ["Aisha works as a pharmacist."],
  "As a pharmacist I can tell you, please don't mix those two meds",
  [("Aisha works as a pharmacist.", "N", 0)])
c(RE, "Tomás", ["Tomás works as a shift manager at Blue Bottle."],
  "managing the shift at blue bottle tmrw again, opening at 6",
  [("Tomás works as a shift manager at Blue Bottle.", "N", 0)])
c(RE, "Anya", ["Anya works as a graphic designer.", "Anya is learning Japanese."],
  "I'm a graphic designer so fonts matter to me way too much lol",
  [("Anya works as a graphic designer.", "N", 0)])
c(RE, "Jamal", ["Jamal's son is named Malik."],
  "Malik, my son, says hi btw",
  [("Jamal's son is named Malik.", "N", 0)])
c(RE, "Leila", ["Leila has two kids.", "Leila is divorced from Omar."],
  "both my kids have the flu this week, two sick kids at once is a nightmare",
  [("Leila has two kids.", "N", 0)])
c(RE, "Hiroshi", ["Hiroshi works day shifts at the factory."],
  "day shift at the factory again, then home for dinner. the usual",
  [("Hiroshi works day shifts at the factory.", "N", 0)])
c(RE, "Pavel", ["Pavel has 3 cats."],
  "my three cats woke me up at 5am demanding food. as usual",
  [("Pavel has 3 cats.", "N", 0)])
c(RE, "Carlos", ["Carlos graduated from UCLA."],
  "still reppin UCLA even after graduating lol, go bruins",
  [("Carlos graduated from UCLA.", "N", 0)])
c(RE, "Arjun", ["Arjun's manager is Trevor."],
  "trevor (my manager) approved my leave, finally",
  [("Arjun's manager is Trevor.", "N", 0)])
c(RE, "Keira", ["Keira is 30 years old."],
  "being 30 feels exactly like being 29 tbh",
  [("Keira is 30 years old.", "N", 0)])
c(RE, "Thandiwe", ["Thandiwe's daughter Lerato was born."],
  "Lerato is sleeping finally, my baby girl ❤️",
  [("Thandiwe has a daughter named Lerato.", "N", 0)])
c(RE, "Nikolai", ["Nikolai's online chess rating is 1600."],
  "still sitting at 1600 on lichess, can't push past it",
  [("Nikolai's online chess rating is 1600.", "N", 0)])
c(RE, "Grace", ["Grace owns a house in Evanston."],
  "the house in Evanston needs a new roof already 🙃 homeownership is great",
  [("Grace owns a house in Evanston.", "N", 0)])
c(RE, "Kwame", ["Kwame uses a MacBook for work.", "Kwame lives in Accra."],
  "Accra traffic was mad today, took 2 hours to get home",
  [("Kwame lives in Accra.", "N", 1)])
c(RE, "Amara", ["Amara lives in Toronto."],
  "Toronto winters are no joke, I'm still not used to it",
  [("Amara lives in Toronto.", "N", 0)])
c(RE, "Dmitri", ["Dmitri lives in Warsaw.", "Dmitri's brother Andriy lives in Kyiv."],
  "talked to Andriy today, he's ok in Kyiv. we call every sunday",
  [("Dmitri's brother Andriy lives in Kyiv.", "N", 1), ("Dmitri calls his brother Andriy every Sunday.", "A")])
c(RE, "Emma", ["Emma has a corgi named Biscuit."],
  "Biscuit (my corgi) stole a whole baguette today 😂",
  [("Emma has a corgi named Biscuit.", "N", 0)])
c(RE, "Tariq", ["Tariq supports Brentford."],
  "Brentford till I die, lost again mind",
  [("Tariq supports Brentford.", "N", 0)])
c(RE, "Patrick", ["Patrick no longer smokes.", "Patrick works as an electrician."],
  "still not smoking! nearly 8 months. sparky life keeps me busy anyway",
  [("Patrick no longer smokes.", "N", 0), ("Patrick works as an electrician.", "N", 1)])
c(RE, "Hana", ["Hana lives in Prague."],
  "I live in Prague so I'm biased but the beer here is the best",
  [("Hana lives in Prague.", "N", 0)])
c(RE, "Esi", ["Esi lives alone."],
  "living alone means I can blast music at 2am, no complaints",
  [("Esi lives alone.", "N", 0)])
c(RE, "Ayumi", ["Ayumi is a nurse.", "Ayumi plays piano at home."],
  "played piano at home for an hour after my nursing shift, so relaxing",
  [("Ayumi plays piano at home.", "N", 1), ("Ayumi is a nurse.", "N", 0)])

# ---------------- new facts ----------------
c(NF, "Beatriz", ["Beatriz lives in Braga."],
  "I've started pottery classes on wednesdays! my first bowl is very wonky",
  [("Beatriz takes pottery classes on Wednesdays.", "A")])
c(NF, "Connor", [],
  "Hi! I'm Connor, 27, I work in insurance in Belfast. nice to meet you",
  [("Connor is 27 years old.", "A"), ("Connor works in insurance.", "A"), ("Connor lives in Belfast.", "A")])
c(NF, "Mariam", ["Mariam has two children."],
  "my eldest just started learning the violin, it sounds like a dying cat but I love it",
  [("Mariam's eldest child is learning the violin.", "A")])
c(NF, "Haruto", ["Haruto works at Sony Interactive Entertainment."],
  "I'm allergic to shellfish, found out the hard way at a work dinner",
  [("Haruto is allergic to shellfish.", "A")])
c(NF, "Ngozi", [],
  "heyy, I'm Ngozi! I'm a final year med student in Ibadan and I love afrobeats and jollof debates 😂",
  [("Ngozi is a final-year medical student.", "A"), ("Ngozi studies in Ibadan.", "A"), ("Ngozi loves afrobeats.", "A")])
c(NF, "Erik", ["Erik drives a Volvo XC40."],
  "we're expecting our first kid in november! nervous and excited",
  [("Erik is expecting his first child in November.", "A")])
c(NF, "Valentina", ["Valentina is pescatarian."],
  "I run a small Etsy shop selling embroidered tote bags, it's taking off a bit",
  [("Valentina runs an Etsy shop selling embroidered tote bags.", "A")])
c(NF, "Samir", ["Lina is Samir's niece."],
  "I'm color blind btw, red-green, so don't trust my outfit choices",
  [("Samir is red-green color blind.", "A")])
c(NF, "Chloe", ["Chloe teaches physics at Lincoln High."],
  "Did I mention I have a twin? Zoe. identical. we used to swap classes in school lol",
  [("Chloe has an identical twin named Zoe.", "A")])
c(NF, "Kofi", [],
  "My wife Esi and I have been married 10 years this month. we're going to Zanzibar to celebrate",
  [("Kofi is married to Esi.", "A"), ("Kofi and Esi have been married for 10 years.", "A"), ("Kofi and Esi are going to Zanzibar for their anniversary.", "A")])
c(NF, "Isabelle", ["Isabelle married Pierre in 2017."],
  "I'm running the Paris half marathon in March, first race ever!",
  [("Isabelle is running the Paris half marathon in March.", "A")])
c(NF, "Yusuf", ["Yusuf is allergic to tree nuts."],
  "I collect vintage watches, got a 1970s Seiko last weekend. it's a problem",
  [("Yusuf collects vintage watches.", "A"), ("Yusuf bought a 1970s Seiko.", "A")])
c(NF, "Greta", ["Greta has lived in Vienna for six years."],
  "my grandmother turns 100 next week!! whole family is flying in",
  [("Greta's grandmother turns 100 next week.", "A")])
c(NF, "Aaliyah", ["Aaliyah plays the viola."],
  "I got into Juilliard's summer program!!! 😭😭",
  [("Aaliyah got into Juilliard's summer program.", "A")])
c(NF, "Precious", ["Precious lives in Bulawayo."],
  "I'm the treasurer of our church youth group now, lots of spreadsheets haha",
  [("Precious is the treasurer of her church youth group.", "A")])
c(NF, "Olga", [],
  "I have a little sourdough starter named Boris, he's 6 years old and older than my relationship",
  [("Olga has a sourdough starter named Boris.", "A")])
c(NF, "Sakura", ["Sakura has an older brother named Ren."],
  "I've been sleeping terribly, doctor thinks it might be insomnia. anyway how's your week?",
  [("Sakura may have insomnia.", "A")])
c(NF, "Musa", ["Musa works for Airtel."],
  "I'm doing a part time masters in data science at night, final semester",
  [("Musa is in the final semester of a part-time master's in data science.", "A")])
c(NF, "Vikram", ["Vikram runs a sweet shop in Chennai."],
  "my son is getting married in december, you must come! it'll be 3 days of chaos",
  [("Vikram's son is getting married in December.", "A")])
c(NF, "Amelia", ["Amelia's flight to Lisbon is on May 13."],
  "Sorry I was quiet, I had my appendix out on Tuesday. Recovering ok, lots of jelly",
  [("Amelia had her appendix removed.", "A")])

# ---------------- small talk (nothing to store) ----------------
c(ST, "Dana", ["Dana lives in Denver."], "hahaha omg yes 😂", [])
c(ST, "Kenji", ["Kenji has a cat named Sora."], "thanks so much, that's really kind of you!", [])
c(ST, "Priya", [], "Good morning!! how was your weekend?", [])
c(ST, "Liam", ["Liam works as a chef."], "ok cool, talk later then 👍", [])
c(ST, "María", [], "jajaja no way, really?? tell me more", [])
c(ST, "Wei", ["Wei will start a postdoc at ETH Zurich in the fall."], "hmm I'm not sure what you mean, can you say it again?", [])
c(ST, "Olusegun", [], "lol fair enough", [])
c(ST, "Siobhan", ["Siobhan lives in Galway."], "Ah that's lovely to hear, hope you have a great time!", [])
c(ST, "Rahul", [], "brb, someone's at the door", [])
c(ST, "Fatima", [], "Happy Eid to you and your family! 🌙", [])

# ---------------- extra tricky cases ----------------
c(UP, "Zanele", ["Zanele lives in Cape Town.", "Zanele works as a lawyer."],
  "Left the firm and opened my own practice!! Also we're thinking about moving to Durban eventually but not for a while",
  [("Zanele runs her own law practice.", "U", 1), ("Zanele is thinking about moving to Durban eventually.", "A")])
c(UN, "Hiroshi", ["Hiroshi works day shifts at the factory."],
  "my son started working at the same factory, he's on nights though, poor kid",
  [("Hiroshi's son works night shifts at the same factory.", "A")])
c(NE, "Grace", ["Grace owns a house in Evanston."],
  "no longer doing yoga btw, I know I talked about it forever. it's pilates now",
  [("Grace no longer does yoga.", "A"), ("Grace does pilates.", "A")])
c(CO, "Nour", ["Nour works as a journalist at Al Jazeera."],
  "I'm a producer, not a journalist exactly. I don't go on air, I make the segments",
  [("Nour works as a producer at Al Jazeera.", "U", 0)])
c(RE, "Ingrid", ["Ingrid lives in Oslo.", "Ingrid dislikes olives."],
  "hi from snowy Oslo! ❄️ what are you up to this weekend?",
  [("Ingrid lives in Oslo.", "N", 0)])
c(UN, "Sofia", ["Sofia has a red bob haircut.", "Sofia works as a hairdresser."],
  "my coworker dyed her hair red too, now clients keep mixing us up 😂",
  [("Sofia's coworker dyed her hair red.", "A")])

print(b.dump(os.path.join(os.path.dirname(os.path.abspath(__file__)), "updates_dev.jsonl")))
