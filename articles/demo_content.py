"""Demo content for `make run`: fictional stories written for this project.

Every sentence here was written for Newsroom's demo; the sources are invented and their URLs
point at example.com. Each summary's evidence quotes are whole sentences of its story, so the
demo shows grounded summaries exactly as the real pipeline produces them.
"""

from __future__ import annotations

TOPICS = [
    ("AI Models", "ai-models", "New models, benchmarks and what they can do."),
    ("Policy", "policy", "Laws, regulators and the rules around technology."),
    ("Chips", "chips", "Semiconductors, data centres and the hardware race."),
    ("Open Source", "open-source", "Community projects, licences and maintainers."),
    ("Science", "science", "Research that machines are helping to do."),
]

SOURCES = [
    ("Harbor Tech Review", "https://harbor-tech.example.com", ["ai-models", "chips"]),
    ("The Civic Ledger", "https://civic-ledger.example.com", ["policy"]),
    ("Open Stack Weekly", "https://openstack-weekly.example.com", ["open-source", "ai-models"]),
    ("Lab Notes Daily", "https://labnotes.example.com", ["science"]),
]

# Each story: source index, topics, title, author, hours ago, paragraphs (lists of sentences),
# then the summary: takeaway, three key points and FAQ rows as (text, index of evidence sentence).
STORIES = [
    {
        "source": 0,
        "topics": ["ai-models"],
        "title": "Small language model matches last year's flagship on coding tests",
        "author": "Mara Lindqvist",
        "hours_ago": 3,
        "sentences": [
            "A research group in Oslo released a language model with eight billion parameters on Monday.",
            "On a widely used coding benchmark it scored 71 percent, the same as a flagship model released a year earlier.",
            "The team says most of the gain came from cleaner training data rather than a new architecture.",
            "They removed near-duplicate files and discarded code that did not compile before training began.",
            "Running the model costs roughly a tenth of what the older flagship needs per request.",
            "Independent testers have not yet reproduced the results.",
            "The group plans to publish its data-cleaning tools under an open licence next month.",
            "Smaller models matter because they can run on a single graphics card inside a company's own network.",
        ],
        "takeaway": "An eight-billion-parameter model from Oslo matched a year-old flagship on a coding benchmark at a tenth of the running cost, crediting cleaner training data.",
        "points": [
            (
                "An Oslo group released an 8B model that scored 71 percent on a coding benchmark, level with last year's flagship.",
                [0, 1],
            ),
            (
                "It runs for about a tenth of the cost and fits on one graphics card, so companies can host it themselves.",
                [4, 7],
            ),
            (
                "Independent replication of the scores, and the promised release of the data-cleaning tools next month.",
                [5, 6],
            ),
        ],
        "faq": [
            (
                "What made the small model so good?",
                "The team credits cleaner training data: near-duplicates and non-compiling code were removed.",
                [2, 3],
            ),
            (
                "Has anyone confirmed the results?",
                "Not yet; independent testers have not reproduced them.",
                [5],
            ),
            (
                "Why do smaller models matter?",
                "They can run on a single graphics card inside a company's own network.",
                [7],
            ),
        ],
    },
    {
        "source": 1,
        "topics": ["policy"],
        "title": "Regional parliament passes disclosure rule for AI-written public notices",
        "author": "Tomas Ferreira",
        "hours_ago": 7,
        "sentences": [
            "The regional parliament voted 58 to 21 on Wednesday to require labels on public notices drafted with AI tools.",
            "The rule covers permits, tenders and planning announcements published by local councils.",
            "Each notice must name the tool used and the official who checked the text.",
            "Councils that break the rule face a fine of up to 20,000 euros per notice.",
            "Supporters argued that residents deserve to know who is accountable for official wording.",
            "Several mayors warned that small councils lack the staff to review every draft.",
            "The rule takes effect on the first of March next year.",
            "A review of how councils comply is scheduled for the end of the first year.",
        ],
        "takeaway": "Public notices drafted with AI must now carry a label naming the tool and the checking official, under a rule the regional parliament passed 58 to 21.",
        "points": [
            (
                "Parliament voted 58 to 21 to require labels on AI-drafted permits, tenders and planning notices.",
                [0, 1],
            ),
            (
                "Residents will know which official is accountable for the wording, and councils face fines for breaches.",
                [3, 4],
            ),
            (
                "The rule starts on 1 March; a compliance review follows after a year, amid staffing worries in small councils.",
                [6, 7, 5],
            ),
        ],
        "faq": [
            (
                "What must a label say?",
                "It must name the AI tool used and the official who checked the text.",
                [2],
            ),
            (
                "What happens if a council ignores the rule?",
                "It can be fined up to 20,000 euros per notice.",
                [3],
            ),
            ("When does it start?", "On the first of March next year.", [6]),
        ],
    },
    {
        "source": 0,
        "topics": ["chips"],
        "title": "Data-centre operator signs deal to reuse server heat for 9,000 homes",
        "author": "Ines Okafor",
        "hours_ago": 11,
        "sentences": [
            "A data-centre operator agreed on Thursday to pipe waste heat from its servers into a city heating network.",
            "The heat will warm about 9,000 homes once the connection is finished.",
            "The servers mostly run AI training jobs that keep chips busy around the clock.",
            "Engineers will raise the water temperature with heat pumps before it enters the network.",
            "The city expects to cut gas use for heating by about a fifth.",
            "Construction of the pipeline is due to start in the summer.",
            "Critics say the deal ties the city to one company's electricity demand for fifteen years.",
        ],
        "takeaway": "Waste heat from an AI data centre will warm about 9,000 homes through the city's heating network, cutting gas use for heating by about a fifth.",
        "points": [
            (
                "An operator agreed to pipe server heat into the city heating network for about 9,000 homes.",
                [0, 1],
            ),
            (
                "AI training keeps chips busy all day, and the city expects to cut heating gas use by a fifth.",
                [2, 4],
            ),
            (
                "Pipeline construction starts in the summer; critics question a fifteen-year tie to one company.",
                [5, 6],
            ),
        ],
        "faq": [
            (
                "How does server heat reach homes?",
                "Heat pumps raise the water temperature before it enters the city network.",
                [3],
            ),
            (
                "Why is there so much heat?",
                "The servers mostly run AI training jobs that keep chips busy around the clock.",
                [2],
            ),
            (
                "What are the concerns?",
                "Critics say the deal ties the city to one company's electricity demand for fifteen years.",
                [6],
            ),
        ],
    },
    {
        "source": 2,
        "topics": ["open-source"],
        "title": "Maintainers of popular parsing library ask companies to fund security audits",
        "author": "Sam Achterberg",
        "hours_ago": 20,
        "sentences": [
            "The three volunteers who maintain a widely used parsing library published an open letter on Friday.",
            "They asked the companies that depend on the library to pay for an independent security audit.",
            "The library is downloaded more than forty million times a month.",
            "Last year a bug in its date handling forced hundreds of projects to ship emergency fixes.",
            "The maintainers estimate that a full audit would cost about 120,000 dollars.",
            "Two cloud providers have already promised to contribute.",
            "The letter also proposes a shared fund that would pay maintainers to respond to security reports.",
        ],
        "takeaway": "Volunteers behind a parsing library downloaded forty million times a month asked the companies that rely on it to fund a 120,000-dollar security audit.",
        "points": [
            (
                "Three volunteer maintainers published an open letter asking dependent companies to pay for an audit.",
                [0, 1],
            ),
            (
                "The library is downloaded over forty million times a month, and a past bug forced hundreds of emergency fixes.",
                [2, 3],
            ),
            (
                "Whether more companies join the two cloud providers, and whether the proposed shared fund takes shape.",
                [5, 6],
            ),
        ],
        "faq": [
            ("How much would the audit cost?", "About 120,000 dollars, by the maintainers' estimate.", [4]),
            ("Has anyone agreed to pay?", "Two cloud providers have promised to contribute.", [5]),
            (
                "What else does the letter propose?",
                "A shared fund that pays maintainers to respond to security reports.",
                [6],
            ),
        ],
    },
    {
        "source": 3,
        "topics": ["science", "ai-models"],
        "title": "Protein model helps chemists find enzyme that breaks down packaging film",
        "author": "Dr. Lena Marsh",
        "hours_ago": 26,
        "sentences": [
            "Chemists at a university lab used a protein-design model to find an enzyme that digests a common packaging film.",
            "The model proposed about two thousand candidate enzymes in a single afternoon.",
            "The team tested the forty most promising candidates in the lab.",
            "One of them broke down half of a film sample within three days at room temperature.",
            "Existing enzymes need temperatures above 60 degrees to work on the same material.",
            "The researchers caution that industrial use would need an enzyme that works many times faster.",
            "The paper and the enzyme sequences were published openly.",
        ],
        "takeaway": "A protein-design model helped chemists find an enzyme that broke down half of a packaging-film sample in three days at room temperature.",
        "points": [
            (
                "The model proposed about two thousand enzymes; lab tests on forty found one that digests packaging film.",
                [1, 2, 0],
            ),
            ("It works at room temperature, where existing enzymes need more than 60 degrees.", [3, 4]),
            ("Whether the enzyme can be made many times faster, as industrial use would require.", [5]),
        ],
        "faq": [
            (
                "How fast does the enzyme work?",
                "It broke down half of a film sample within three days at room temperature.",
                [3],
            ),
            (
                "Is it ready for recycling plants?",
                "No; industrial use would need an enzyme that works many times faster.",
                [5],
            ),
            (
                "Can others build on it?",
                "Yes, the paper and the enzyme sequences were published openly.",
                [6],
            ),
        ],
    },
    {
        "source": 1,
        "topics": ["policy", "ai-models"],
        "title": "Consumer agency opens inquiry into chatbot subscription cancellations",
        "author": "Priya Raman",
        "hours_ago": 30,
        "sentences": [
            "The national consumer agency opened an inquiry on Tuesday into how chatbot services handle cancellations.",
            "The agency received more than 1,400 complaints about subscriptions that were hard to stop.",
            "Some services required users to chat with a bot several times before a cancel button appeared.",
            "Under current law, cancelling must be as easy as signing up.",
            "The agency can order refunds and fines of up to four percent of national turnover.",
            "Companies have thirty days to answer the agency's questions.",
        ],
        "takeaway": "After 1,400 complaints, the consumer agency is investigating chatbot services that make subscriptions hard to cancel.",
        "points": [
            ("The consumer agency opened an inquiry into how chatbot services handle cancellations.", [0]),
            (
                "The law says cancelling must be as easy as signing up, and the agency can order refunds and fines.",
                [3, 4],
            ),
            ("Companies have thirty days to answer the agency's questions.", [5]),
        ],
        "faq": [
            (
                "What prompted the inquiry?",
                "More than 1,400 complaints about subscriptions that were hard to stop.",
                [1],
            ),
            (
                "What did users run into?",
                "Some had to chat with a bot several times before a cancel button appeared.",
                [2],
            ),
            (
                "What penalties are possible?",
                "Refunds and fines of up to four percent of national turnover.",
                [4],
            ),
        ],
    },
    {
        "source": 0,
        "topics": ["chips"],
        "title": "Chipmaker delays second factory as demand for training chips levels off",
        "author": "Mara Lindqvist",
        "hours_ago": 38,
        "sentences": [
            "A chipmaker said on Monday it will delay its second factory by eighteen months.",
            "The company cited slower orders for chips used to train large AI models.",
            "Orders for chips that run finished models, known as inference chips, are still growing.",
            "The first factory will switch part of its lines to inference chips next year.",
            "About 600 construction jobs at the second site will be postponed.",
            "Shares of the company fell four percent after the announcement.",
        ],
        "takeaway": "A chipmaker is delaying its second factory by eighteen months as orders for AI training chips slow while inference-chip demand keeps growing.",
        "points": [
            (
                "The company will delay its second factory by eighteen months, citing slower training-chip orders.",
                [0, 1],
            ),
            ("Demand is shifting to inference chips, and about 600 construction jobs are postponed.", [2, 4]),
            ("How quickly the first factory converts lines to inference chips next year.", [3]),
        ],
        "faq": [
            ("Why the delay?", "Orders for chips used to train large AI models have slowed.", [1]),
            (
                "Is any demand still growing?",
                "Yes, orders for inference chips that run finished models are still growing.",
                [2],
            ),
            ("How did investors react?", "Shares fell four percent after the announcement.", [5]),
        ],
    },
    {
        "source": 2,
        "topics": ["open-source", "ai-models"],
        "title": "Open dataset of 3 million permissively licensed images released for model training",
        "author": "Sam Achterberg",
        "hours_ago": 45,
        "sentences": [
            "A coalition of archives and universities released a dataset of three million images on Wednesday.",
            "Every image carries a licence that allows reuse for training machine-learning models.",
            "Each file comes with a record of where it came from and who holds the rights.",
            "The coalition spent two years checking licences by hand and with automated tools.",
            "Model builders have faced lawsuits over images scraped without permission.",
            "The dataset is smaller than scraped collections, which can hold billions of images.",
        ],
        "takeaway": "Archives and universities released three million images cleared for model training, each with a record of its origin and rights holder.",
        "points": [
            (
                "A coalition released a three-million-image dataset licensed for machine-learning training.",
                [0, 1],
            ),
            (
                "Model builders facing lawsuits over scraped images get a source with provenance for every file.",
                [4, 2],
            ),
            (
                "Whether a dataset far smaller than scraped collections is enough to train competitive models.",
                [5],
            ),
        ],
        "faq": [
            ("How were licences checked?", "Over two years, by hand and with automated tools.", [3]),
            ("What comes with each image?", "A record of where it came from and who holds the rights.", [2]),
            (
                "How big is it compared with scraped sets?",
                "Much smaller; scraped collections can hold billions of images.",
                [5],
            ),
        ],
    },
    {
        "source": 3,
        "topics": ["science"],
        "title": "Weather model trained on forty years of data beats forecasts for heavy rain",
        "author": "Dr. Lena Marsh",
        "hours_ago": 52,
        "sentences": [
            "A national weather service reported that its new machine-learning model forecasts heavy rain more accurately than its older system.",
            "The model was trained on forty years of observations and past forecasts.",
            "In a six-month trial it warned of flash floods an average of ninety minutes earlier.",
            "The older physics-based system still did better for snow in mountain areas.",
            "Forecasters will use both systems side by side during the coming winter.",
            "The service said the new model runs in four minutes on a single server.",
        ],
        "takeaway": "A weather service's machine-learning model warned of flash floods ninety minutes earlier on average in a six-month trial.",
        "points": [
            (
                "The service's new model, trained on forty years of data, forecasts heavy rain better than the old system.",
                [0, 1],
            ),
            (
                "Earlier flood warnings give people more time to act: ninety minutes on average in the trial.",
                [2],
            ),
            (
                "Forecasters will run both systems this winter, since the old one still wins on mountain snow.",
                [4, 3],
            ),
        ],
        "faq": [
            (
                "How much earlier were the warnings?",
                "An average of ninety minutes earlier in a six-month trial.",
                [2],
            ),
            (
                "Is the old system retired?",
                "No, forecasters will use both systems side by side this winter.",
                [4],
            ),
            ("How fast is the new model?", "It runs in four minutes on a single server.", [5]),
        ],
    },
    {
        "source": 1,
        "topics": ["policy", "chips"],
        "title": "City council limits new data centres to sites with spare grid capacity",
        "author": "Tomas Ferreira",
        "hours_ago": 60,
        "sentences": [
            "The city council approved a plan on Monday that limits new data centres to four industrial zones.",
            "The zones were chosen because the electricity grid there has spare capacity.",
            "Applicants must show how they will reuse waste heat or explain why they cannot.",
            "Operators said the rules will add months to planning but give them more certainty.",
            "The council estimates that the zones can host about 300 megawatts of new demand.",
            "The plan will be reviewed in three years.",
        ],
        "takeaway": "New data centres in the city may only be built in four industrial zones with spare grid capacity, and must plan to reuse waste heat.",
        "points": [
            (
                "The council limited new data centres to four industrial zones with spare grid capacity.",
                [0, 1],
            ),
            ("Operators get more certainty but longer planning, and must address waste-heat reuse.", [3, 2]),
            ("The zones can host about 300 megawatts; the plan is reviewed in three years.", [4, 5]),
        ],
        "faq": [
            ("Why these four zones?", "The electricity grid there has spare capacity.", [1]),
            ("What must applicants show?", "How they will reuse waste heat, or why they cannot.", [2]),
            (
                "How much capacity is available?",
                "About 300 megawatts of new demand, by the council's estimate.",
                [4],
            ),
        ],
    },
    {
        "source": 2,
        "topics": ["open-source"],
        "title": "Linux distribution adopts reproducible builds for its entire base system",
        "author": "Alex Moreau",
        "hours_ago": 70,
        "sentences": [
            "A community Linux distribution announced that every package in its base system now builds reproducibly.",
            "Anyone who compiles the source code gets byte-for-byte identical files.",
            "That lets users check that published packages were not tampered with on the build servers.",
            "The project spent four years fixing timestamps, file ordering and other sources of variation.",
            "Independent volunteers now rebuild every release and publish their results.",
            "The team hopes to extend the work to the full package archive within two years.",
        ],
        "takeaway": "Every base-system package of a community Linux distribution now builds byte-for-byte identically, so users can verify nothing was tampered with.",
        "points": [
            ("The distribution announced reproducible builds for every package in its base system.", [0]),
            (
                "Identical rebuilds let anyone check published packages were not tampered with on build servers.",
                [1, 2],
            ),
            ("Extending reproducibility to the full archive within two years.", [5]),
        ],
        "faq": [
            (
                "What does reproducible mean here?",
                "Anyone compiling the source gets byte-for-byte identical files.",
                [1],
            ),
            (
                "How long did it take?",
                "Four years of fixing timestamps, file ordering and other variation.",
                [3],
            ),
            (
                "Who checks the results?",
                "Independent volunteers rebuild every release and publish their results.",
                [4],
            ),
        ],
    },
    {
        "source": 3,
        "topics": ["science", "ai-models"],
        "title": "Hospital trial finds AI triage tool cut emergency waiting times by a quarter",
        "author": "Priya Raman",
        "hours_ago": 80,
        "sentences": [
            "A hospital network reported that an AI triage tool cut average emergency waiting times by a quarter.",
            "The tool ranked incoming patients by urgency using their symptoms and vital signs.",
            "Nurses reviewed every ranking and changed about one in twelve.",
            "The trial ran for nine months across three emergency departments.",
            "No increase in missed serious conditions was found during the trial.",
            "The network plans a larger study before using the tool in all its hospitals.",
        ],
        "takeaway": "An AI triage tool, checked by nurses, cut emergency waiting times by a quarter in a nine-month trial at three departments.",
        "points": [
            ("A hospital network's AI triage tool cut average emergency waiting times by a quarter.", [0]),
            (
                "Nurses stayed in control, changing about one ranking in twelve, with no rise in missed serious conditions.",
                [2, 4],
            ),
            ("A larger study comes before the tool is used in all the network's hospitals.", [5]),
        ],
        "faq": [
            ("How does the tool rank patients?", "By urgency, using their symptoms and vital signs.", [1]),
            (
                "Did nurses overrule it?",
                "Yes, they reviewed every ranking and changed about one in twelve.",
                [2],
            ),
            ("How long was the trial?", "Nine months across three emergency departments.", [3]),
        ],
    },
    # Other outlets' coverage of events above ("covers"), in their own words: grouping puts
    # each in the first report's story, which then has several sources.
    {
        "source": 1,
        "topics": ["policy", "chips"],
        "title": "City signs fifteen-year heat deal with data-centre operator",
        "covers": "Data-centre operator signs deal to reuse server heat for 9,000 homes",
        "author": "Tomas Reyes",
        "hours_ago": 9,
        "sentences": [
            "The city signed a fifteen-year contract on Thursday to take waste heat from a data-centre operator's servers.",
            "Officials said the heat will reach about 9,000 homes through the municipal heating network.",
            "Heat pumps will bring the water up to the temperature the network needs.",
            "The deputy mayor said gas use for heating should fall by about a fifth.",
            "Opposition councillors voted against the contract, warning that the city will depend on one company's servers for fifteen years.",
            "Work on the pipeline is expected to begin in the summer.",
        ],
        "takeaway": "The city signed a fifteen-year contract to heat about 9,000 homes with a data centre's waste heat, expecting to cut heating gas use by a fifth.",
        "points": [
            (
                "A fifteen-year contract sends a data centre's waste heat to about 9,000 homes through the city network.",
                [0, 1],
            ),
            ("The city expects gas use for heating to fall by about a fifth.", [3]),
            (
                "Pipeline work begins in the summer, over the opposition's worries about depending on one company.",
                [5, 4],
            ),
        ],
        "faq": [
            (
                "How long does the deal run?",
                "Fifteen years, under the contract signed on Thursday.",
                [0],
            ),
            (
                "How does the heat get into homes?",
                "Heat pumps bring the water up to the temperature the network needs.",
                [2],
            ),
            (
                "Who opposed it?",
                "Opposition councillors, who warned of depending on one company's servers for fifteen years.",
                [4],
            ),
        ],
    },
    {
        "source": 1,
        "topics": ["policy", "chips"],
        "title": "600 construction jobs on hold as chipmaker postpones second factory",
        "covers": "Chipmaker delays second factory as demand for training chips levels off",
        "author": "Tomas Reyes",
        "hours_ago": 35,
        "sentences": [
            "About 600 construction jobs are on hold after a chipmaker postponed its second factory by eighteen months.",
            "The company blamed weaker orders for the chips used to train large AI models.",
            "Demand for inference chips, which run finished models, is still rising, the chipmaker said.",
            "The regional economy minister said the grant for the factory remains available.",
            "Local builders had already hired crews for the site and now expect a quiet winter.",
            "The company's shares dropped four percent on the news.",
        ],
        "takeaway": "A chipmaker's eighteen-month delay to its second factory puts about 600 construction jobs on hold as orders for AI training chips weaken.",
        "points": [
            (
                "About 600 construction jobs wait after the second factory was postponed by eighteen months.",
                [0],
            ),
            (
                "Training-chip orders weakened while inference-chip demand keeps rising, and the shares fell four percent.",
                [1, 2, 5],
            ),
            ("The factory grant stays available, the regional economy minister said.", [3]),
        ],
        "faq": [
            (
                "Why was the factory postponed?",
                "The company blamed weaker orders for chips used to train large AI models.",
                [1],
            ),
            (
                "What happens to the public grant?",
                "The regional economy minister said it remains available.",
                [3],
            ),
            (
                "Who is affected locally?",
                "Builders who had hired crews for the site now expect a quiet winter.",
                [4],
            ),
        ],
    },
    {
        "source": 0,
        "topics": ["open-source"],
        "title": "Companies asked to pay for security audit of parsing library used by millions",
        "covers": "Maintainers of popular parsing library ask companies to fund security audits",
        "author": "Ines Okafor",
        "hours_ago": 17,
        "sentences": [
            "Volunteer maintainers of a parsing library downloaded forty million times a month want the companies that use it to pay for a security audit.",
            "In an open letter, the three maintainers put the cost of a full audit at about 120,000 dollars.",
            "Two cloud providers have pledged money so far.",
            "A date-handling bug in the library last year led hundreds of projects to release emergency fixes.",
            "The maintainers also want a shared fund to pay for handling security reports.",
        ],
        "takeaway": "The three volunteers behind a widely used parsing library asked companies to fund a security audit of about 120,000 dollars; two cloud providers have pledged.",
        "points": [
            (
                "The maintainers' open letter asks companies using the library to pay for a full security audit.",
                [0, 1],
            ),
            (
                "A bug last year forced hundreds of projects into emergency fixes.",
                [3],
            ),
            ("Two cloud providers have pledged; the letter also proposes a shared fund.", [2, 4]),
        ],
        "faq": [
            ("What would the audit cost?", "About 120,000 dollars, according to the letter.", [1]),
            ("Who has pledged money?", "Two cloud providers so far.", [2]),
            (
                "Why does an audit matter?",
                "A date-handling bug last year led hundreds of projects to release emergency fixes.",
                [3],
            ),
        ],
    },
]

# What a new editor meets on the desk after `make run`: these stories wait for review instead
# of being published. "review": a clean AI draft; "unverified": a draft whose last key point
# cites a quote that is not in the article (the desk flags it); "regenerated": live, with a
# regenerated version waiting for approval beside the one readers see.
DESK_STATES = {
    "Small language model matches last year's flagship on coding tests": "review",
    "Regional parliament passes disclosure rule for AI-written public notices": "unverified",
    "Data-centre operator signs deal to reuse server heat for 9,000 homes": "regenerated",
}
UNVERIFIED_POINT = {
    "text": "Officials expect the first labelled notices within 30 days, and fines for unlabelled ones.",
    "evidence": ["The first labelled notices are expected within 30 days, with fines for any without."],
}
REGENERATED_NOTE = "Lead with the number of homes."

# A wire-style republication: another demo outlet runs a story word for word with a credit
# line. Grouping finds it a copy of the original (also published by ...), so it stays
# `extracted` with no summary of its own and no model call.
COPIES = [
    {
        "source": 0,
        "of": "Weather model trained on forty years of data beats forecasts for heavy rain",
        "title": "Machine-learning weather model beats old system on heavy rain",
        "hours_ago": 50,
        "credit": "This article first appeared in Lab Notes Daily.",
    },
]
