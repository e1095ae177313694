"""A labelled set for proposing follow-ups (articles/stories/followups.py): "What to watch"
sentences as a story summary writes them, and later reports (title and lead) that do or do not
answer them. Invented, in the wording of wire copy and summaries.

The reports that do not answer include the hard cases an editor would refuse: a later report
of the same story about another aspect, one sharing the question's names or institutions
about a different event, and one on the same subject that says nothing new about it. The
threshold STORY_FOLLOWUP_THRESHOLD is chosen on this set (tests/articles/stories/
test_followups.py reports precision and recall; bench/followups.py prints the sweep).
"""

from __future__ import annotations

from typing import NamedTuple


class Pair(NamedTuple):
    question: str
    title: str
    lead: str
    answers: bool


Q_HEARINGS = "The first public hearings on the light-rail route are planned for the spring."
Q_RATES = "Investors will watch whether the central bank raises interest rates at its March meeting."
Q_CLIMBERS = "Rescue teams are still searching for the two missing climbers on the north face."
Q_UNION = "The rail union will decide on Friday whether to accept the operator's pay offer."
Q_PLANT = "The carmaker is expected to say next month whether it will close its Leeds plant."
Q_RECOUNT = "Officials said the results of the mayoral recount should be known next week."
Q_TRIAL = "The corruption trial of the former interior minister opens in October."
Q_STORM = "Forecasters will watch whether Tropical Storm Lena strengthens into a hurricane before landfall."
Q_VACCINE = "The health agency will decide whether to approve the vaccine for children under five."
Q_MANAGER = "The club's board meets on Monday to decide the manager's future after a fifth straight defeat."
Q_BRIDGE = "Investigators into the bridge collapse are expected to report on its cause within a month."
Q_BUDGET = "Lawmakers will vote on the budget bill next week."
Q_MERGER = "The competition regulator has yet to say whether it will block the merger of the two airlines."
Q_ROCKET = "The space agency plans a second launch attempt of its new rocket on Saturday."
Q_ROBBERY = "Police are expected to name the suspects in the museum robbery."
Q_SCHOOLS = "The school board will decide whether the flooded schools can reopen after the holiday."
Q_CEASEFIRE = "Whether the ceasefire holds through the weekend remains to be seen."
Q_WILDFIRE = "The wildfire could reach the town of Paradise Hills by Thursday unless the winds ease."
Q_PAY = "Shareholders will vote on the chief executive's pay package at the annual meeting."
Q_RUNWAY = "The government is due to decide on the new runway at the city airport in the autumn."
Q_SAMPLES = "Scientists will now analyse the asteroid samples the probe brought back."
Q_SUBSIDY = (
    "The minister said a decision on extending the fuel subsidy will come before the end of the month."
)
Q_JURY = "The jury in the fraud trial of the tech founder is expected to begin deliberations on Monday."
Q_STRIKE = "Doctors have threatened a national strike if talks on pay fail this week."

PAIRS: list[Pair] = [
    # --- Later reports that answer the question ---------------------------------------------
    Pair(
        Q_HEARINGS,
        "Hundreds pack first hearing on the light-rail line across the river",
        "More than three hundred residents packed the town hall on Monday for the first public hearing "
        "on the route of the light-rail line across the river that the council approved last week.",
        True,
    ),
    Pair(
        Q_RATES,
        "Central bank raises interest rates by a quarter point",
        "The central bank raised its main interest rate by 0.25 percentage points at its March meeting, "
        "citing stubborn inflation in services.",
        True,
    ),
    Pair(
        Q_CLIMBERS,
        "Missing climbers found alive on north face after three days",
        "Rescue teams found the two climbers alive on the mountain's north face on Sunday, three days "
        "after they were reported missing in a storm.",
        True,
    ),
    Pair(
        Q_UNION,
        "Rail union accepts pay offer, calling off strikes",
        "Members of the rail union voted on Friday to accept the operator's improved pay offer, ending "
        "six months of strikes that disrupted commuter services.",
        True,
    ),
    Pair(
        Q_PLANT,
        "Carmaker confirms closure of Leeds plant with 1,200 jobs lost",
        "The carmaker said on Wednesday it will close its Leeds plant next year, putting 1,200 jobs at "
        "risk as it moves production abroad.",
        True,
    ),
    Pair(
        Q_RECOUNT,
        "Recount confirms mayor's narrow re-election",
        "A recount of the mayoral election completed on Tuesday confirmed the mayor's victory by 214 "
        "votes, election officials said.",
        True,
    ),
    Pair(
        Q_TRIAL,
        "Former interior minister goes on trial for corruption",
        "The corruption trial of the former interior minister opened on Monday, with prosecutors "
        "accusing him of taking bribes for police contracts.",
        True,
    ),
    Pair(
        Q_STORM,
        "Lena strengthens into a hurricane as it nears the coast",
        "Tropical Storm Lena strengthened into a Category 1 hurricane overnight, forecasters said, "
        "ahead of an expected landfall on Thursday.",
        True,
    ),
    Pair(
        Q_VACCINE,
        "Health agency approves vaccine for children under five",
        "The health agency approved the vaccine for children aged six months to five years on "
        "Wednesday, clearing the way for doses to be offered in clinics next month.",
        True,
    ),
    Pair(
        Q_MANAGER,
        "Club sacks manager after fifth straight defeat",
        "The club sacked its manager on Monday after a board meeting, two days after a fifth straight "
        "defeat left the team in the relegation zone.",
        True,
    ),
    Pair(
        Q_BRIDGE,
        "Corroded cables caused bridge collapse, investigators find",
        "Corroded support cables caused the collapse of the river bridge, investigators said in a "
        "report published on Friday.",
        True,
    ),
    Pair(
        Q_BUDGET,
        "Parliament passes budget bill after late-night vote",
        "Lawmakers approved the budget bill by 312 votes to 290 in a late-night vote on Wednesday.",
        True,
    ),
    Pair(
        Q_MERGER,
        "Regulator blocks merger of the two airlines",
        "The competition regulator on Tuesday blocked the proposed merger of the two airlines, saying "
        "it would raise fares on domestic routes.",
        True,
    ),
    Pair(
        Q_ROCKET,
        "New rocket lifts off on second launch attempt",
        "The space agency's new rocket lifted off on its second launch attempt on Saturday, a week after "
        "a valve fault halted the countdown.",
        True,
    ),
    Pair(
        Q_ROBBERY,
        "Police name three suspects in museum robbery",
        "Police on Thursday named three suspects in last month's robbery at the national museum and "
        "asked the public for help in finding them.",
        True,
    ),
    Pair(
        Q_SCHOOLS,
        "Flooded schools to reopen after the holiday, board says",
        "The school board said on Friday that all but one of the flooded schools will reopen after the "
        "holiday once repairs are checked.",
        True,
    ),
    Pair(
        Q_CEASEFIRE,
        "Ceasefire collapses as shelling resumes",
        "The ceasefire collapsed on Saturday as shelling resumed on the eastern front, hours before "
        "talks were due to start.",
        True,
    ),
    Pair(
        Q_WILDFIRE,
        "Wildfire reaches the outskirts of Paradise Hills",
        "The wildfire reached the outskirts of Paradise Hills on Thursday as winds picked up, forcing "
        "the evacuation of 4,000 residents.",
        True,
    ),
    Pair(
        Q_PAY,
        "Shareholders reject chief executive's pay package",
        "Shareholders voted down the chief executive's 18 million dollar pay package at the annual "
        "meeting on Tuesday.",
        True,
    ),
    Pair(
        Q_RUNWAY,
        "Government approves new runway at city airport",
        "The government on Monday approved a new runway at the city airport, overruling objections "
        "from residents under the flight path.",
        True,
    ),
    Pair(
        Q_SAMPLES,
        "Asteroid samples contain building blocks of life, scientists say",
        "Samples of the asteroid brought back by the probe contain amino acids, scientists who analysed "
        "them said on Wednesday.",
        True,
    ),
    Pair(
        Q_SUBSIDY,
        "Fuel subsidy extended for three more months",
        "The minister announced on Thursday that the fuel subsidy will be extended until the end of March.",
        True,
    ),
    Pair(
        Q_JURY,
        "Jury finds tech founder guilty of fraud",
        "A jury found the tech founder guilty of fraud on Wednesday after two days of deliberations.",
        True,
    ),
    Pair(
        Q_STRIKE,
        "Doctors call national strike after pay talks fail",
        "Doctors will stage a national strike next week after talks on pay with the health ministry "
        "failed on Thursday, their union said.",
        True,
    ),
    # --- Same story, another aspect --------------------------------------------------------
    Pair(
        Q_HEARINGS,
        "Light-rail line will cost more than planned, audit finds",
        "An audit of the light-rail line across the river found the project will cost 300 million "
        "dollars more than the council was told.",
        False,
    ),
    Pair(
        Q_STORM,
        "Lena's remnants bring flooding inland",
        "The remnants of Lena brought flooding to inland towns on Saturday, two days after landfall, "
        "and power was cut to 30,000 homes.",
        False,
    ),
    Pair(
        Q_CLIMBERS,
        "Mountain guides call for tighter rules on the north face",
        "Mountain guides called on Tuesday for permits to climb the north face, saying too many "
        "inexperienced climbers attempt the route.",
        False,
    ),
    Pair(
        Q_BRIDGE,
        "Ferry service added while the bridge is closed",
        "A temporary ferry will carry commuters across the river until a new bridge is built, the "
        "transport authority said.",
        False,
    ),
    Pair(
        Q_ROBBERY,
        "Museum reopens gallery after robbery",
        "The national museum reopened the gallery where the robbery took place on Saturday, with new "
        "glass cases and more guards.",
        False,
    ),
    Pair(
        Q_WILDFIRE,
        "Firefighters from three countries join the wildfire effort",
        "Firefighters from three neighbouring countries arrived on Tuesday to help fight the wildfire, "
        "officials said.",
        False,
    ),
    Pair(
        Q_JURY,
        "Tech founder's former partner testifies in fraud trial",
        "The tech founder's former business partner told the fraud trial on Tuesday that investors were "
        "shown invented sales figures.",
        False,
    ),
    Pair(
        Q_MERGER,
        "Airlines promise lower fares if the merger goes ahead",
        "The two airlines said on Monday that their merger would bring lower fares on long-haul routes "
        "and keep every hub open.",
        False,
    ),
    # --- Shared names or institutions, another event ------------------------------------------
    Pair(
        Q_RATES,
        "Central bank governor warns of slowing growth",
        "The central bank governor warned on Monday that growth is slowing faster than expected as "
        "exports fall.",
        False,
    ),
    Pair(
        Q_UNION,
        "Rail operator cancels trains as heat buckles tracks",
        "The rail operator cancelled dozens of trains on Tuesday after the heat buckled tracks on the "
        "main line.",
        False,
    ),
    Pair(
        Q_PLANT,
        "Leeds council approves new tram plan",
        "Leeds council on Thursday approved plans for a tram network linking the city centre with the "
        "airport.",
        False,
    ),
    Pair(
        Q_TRIAL,
        "Former interior minister publishes memoir",
        "The former interior minister published a memoir on Tuesday describing his years in government.",
        False,
    ),
    Pair(
        Q_VACCINE,
        "Vaccine maker reports record profits",
        "The vaccine maker reported record quarterly profits on Thursday on strong sales of its flu shot.",
        False,
    ),
    Pair(
        Q_MANAGER,
        "Manager signs striker from rivals",
        "The manager signed a striker from the club's local rivals on Friday for 12 million pounds.",
        False,
    ),
    Pair(
        Q_BUDGET,
        "Budget watchdog warns of rising deficit",
        "The budget watchdog warned on Tuesday that the deficit will rise next year as interest costs climb.",
        False,
    ),
    Pair(
        Q_ROCKET,
        "Space agency names new director",
        "The space agency named a former astronaut as its new director on Monday.",
        False,
    ),
    Pair(
        Q_SCHOOLS,
        "School board approves longer summer holiday",
        "The school board approved a longer summer holiday from next year, after a survey of parents.",
        False,
    ),
    Pair(
        Q_PAY,
        "Chief executive to step down next year",
        "The chief executive will step down next year after a decade in the job, the company said on Friday.",
        False,
    ),
    Pair(
        Q_RUNWAY,
        "City airport passenger numbers hit record",
        "The city airport handled a record 9 million passengers last year, its owners said on Monday.",
        False,
    ),
    Pair(
        Q_SUBSIDY,
        "Fuel prices fall for a third week",
        "Fuel prices fell for a third week in a row, the motoring association said on Tuesday.",
        False,
    ),
    Pair(
        Q_STRIKE,
        "Nurses accept pay offer",
        "Nurses voted on Wednesday to accept the government's pay offer of 5 percent.",
        False,
    ),
    Pair(
        Q_CEASEFIRE,
        "Aid convoy reaches the besieged city",
        "A convoy of 40 aid lorries reached the besieged city on Friday, the first in a month, the "
        "United Nations said.",
        False,
    ),
    Pair(
        Q_RECOUNT,
        "Mayor announces new housing plan",
        "The mayor announced plans on Wednesday for 5,000 new homes on former industrial land.",
        False,
    ),
    Pair(
        Q_SAMPLES,
        "Probe's camera captures images of a distant moon",
        "The probe's camera has captured detailed images of a distant moon, the agency said.",
        False,
    ),
    # --- Unrelated ---------------------------------------------------------------------------
    Pair(
        Q_HEARINGS,
        "Cup final goes to penalties",
        "The cup final was decided on penalties on Saturday after a goalless draw.",
        False,
    ),
    Pair(
        Q_ROBBERY,
        "Glacier melt accelerates, study finds",
        "Alpine glaciers lost a record share of their ice this summer, a study published on Monday found.",
        False,
    ),
    Pair(
        Q_BUDGET,
        "National museum reopens after renovation",
        "The national museum reopened on Saturday after a two-year renovation that cost 40 million euros.",
        False,
    ),
    Pair(
        Q_JURY,
        "Storm closes ports along the northern coast",
        "A winter storm closed every port along the northern coast on Friday, stranding dozens of "
        "cargo ships and ferries.",
        False,
    ),
]
