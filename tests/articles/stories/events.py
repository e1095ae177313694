"""Invented news events for the grouping tests, each told by two outlets in their own words,
and a wire text that outlets republish word for word."""

from __future__ import annotations

RAIL = (
    "Council approves light-rail line across the river",
    "The city council voted on Tuesday to build a light-rail line across the river. The project "
    "will cost 2.4 billion dollars and take seven years to finish. Supporters say the line will cut "
    "commuting times in half for forty thousand riders. Critics worry that construction will close "
    "the main bridge for two summers. The first public hearings on the route are planned for the "
    "spring, and the council expects to choose a builder before the end of next year. Trams will "
    "run every six minutes at peak hours, stopping at eleven stations between the old town and the "
    "airport.",
)
RAIL_REWRITE = (
    "Light-rail line across the river wins council approval",
    "Councillors approved a 2.4 billion dollar light-rail line across the river on Tuesday after a "
    "long debate. Building it will take seven years. Opponents fear the main bridge will be closed "
    "for two summers, while backers promise that forty thousand riders will see their commutes cut "
    "in half. Eleven stations will link the old town with the airport, and trams are to run every "
    "six minutes at peak hours. Hearings on the route open in the spring.",
)
MUSEUM = (
    "National museum reopens after two-year renovation",
    "The national museum reopened its doors on Saturday after a renovation that took two years and "
    "cost 40 million euros. Visitors queued around the block to see the restored ceiling of the main "
    "hall. The museum has added a children's wing and a rooftop cafe, and entry will be free on the "
    "first Sunday of every month. The director said the works uncovered a painted wall from the "
    "eighteenth century behind the old entrance, which will stay on show. Opening hours are longer "
    "on Fridays, when the museum now closes at ten in the evening.",
)
MUSEUM_REWRITE = (
    "Crowds return as the national museum opens its doors again",
    "Long queues formed on Saturday as the national museum reopened after two years of renovation "
    "costing 40 million euros. The restored ceiling of the main hall drew the biggest crowds; a new "
    "children's wing and a rooftop cafe opened too. Entry will be free every first Sunday. Builders "
    "found an eighteenth-century painted wall behind the old entrance, now on display, and the museum "
    "stays open until ten in the evening on Fridays.",
)
WIRE = (
    "Storm closes ports along the northern coast",
    "A winter storm closed every port along the northern coast on Friday, stranding dozens of cargo "
    "ships and ferries, the coast guard said. Winds reached 140 kilometres an hour overnight and waves "
    "of up to nine metres were recorded off the headland. Ferry operators cancelled all crossings "
    "until Sunday at the earliest. Harbour authorities said no injuries had been reported, but two "
    "fishing boats broke loose from their moorings and ran aground near the old lighthouse. Power "
    "was cut to about 30,000 homes in the region, and repair crews were waiting for the wind to drop "
    "before climbing the lines. Forecasters expect the storm to weaken on Saturday afternoon.",
)
# A follow-up of RAIL: close enough in words for grouping to join it to the vote's story, a
# separate event to an editor.
HEARING = (
    "Hundreds pack first hearing on the light-rail line across the river",
    "More than three hundred residents packed the town hall on Monday for the first public hearing "
    "on the route of the light-rail line across the river that the council approved last week. "
    "Shopkeepers on Harbour Street asked planners to move the tracks away from their doors, and "
    "parents from the Eastside school demanded a crossing guard at the new station. Planners will "
    "publish a revised route map in June after two more hearings.",
)
HEARING_REWRITE = (
    "Residents crowd town hall to shape light-rail route",
    "The town hall was full on Monday night as residents gave their views on the light-rail route "
    "at the first of three hearings. Harbour Street shopkeepers want the tracks moved away from "
    "their shop doors; Eastside school parents want a crossing guard. A revised route map is due "
    "in June.",
)
# RAIL told in French: without embeddings grouping keeps the two languages apart, and an editor
# merges them.
RAIL_FRENCH = (
    "Le conseil municipal approuve une ligne de tramway au-dessus du fleuve",
    "Le conseil municipal a voté mardi la construction d'une ligne de tramway qui traversera le "
    "fleuve. Le chantier coûtera 2,4 milliards de dollars et durera sept ans. Selon ses partisans, "
    "la ligne réduira de moitié le temps de trajet de quarante mille usagers. Ses opposants "
    "craignent la fermeture du pont principal pendant deux étés.",
)
RAIL_FRENCH_REWRITE = (
    "Feu vert du conseil pour le tramway qui franchira le fleuve",
    "Après un long débat, les élus ont donné mardi leur feu vert à une ligne de tramway de 2,4 "
    "milliards de dollars qui franchira le fleuve. Les travaux dureront sept ans et pourraient "
    "fermer le pont principal pendant deux étés ; quarante mille usagers verraient leur trajet "
    "divisé par deux.",
)

# The rail event told without one word of the first report's title: some words of its text
# and its meaning are shared.
RAIL_PARAPHRASE = (
    "Trams to span the water by 2033",
    "The light-rail line across the river was approved by the council on Tuesday and will cost "
    "2.4 billion dollars.",
)

# What every page of one site carries before its report: navigation and a cookie banner,
# longer than the lead grouping reads (similarity.LEAD_CHARACTERS).
SITE_BANNER = (
    "Home\nNews\nSport\nBusiness\nWeather\n"
    "We use cookies to improve your experience on our site, to show you personalised advertising "
    "and to analyse our traffic. By clicking Accept all you agree to the storing of cookies on your "
    "device for the purposes described in our Cookie Policy. You can change your choice at any time "
    "in Privacy settings at the bottom of every page. Some of our partners process your data on the "
    "basis of legitimate interest, which you can object to in the same settings.\n"
)
