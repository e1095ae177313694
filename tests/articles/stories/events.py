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
