from django.contrib.sitemaps.views import sitemap
from django.urls import path

from . import feeds, views
from .news_sitemap import news_sitemap
from .sitemaps import SITEMAPS

urlpatterns = [
    path("", views.home, name="home"),
    path("topics/<slug:slug>/", views.topic, name="topic"),
    path("topics/<slug:slug>/feed/", feeds.TopicFeed(), name="topic_feed"),
    path("sources/<slug:slug>/", views.source, name="source"),
    path("a/<slug:slug>/", views.article, name="article"),
    path("stories/<slug:slug>/", views.story, name="story"),
    path("search/", views.search, name="search"),
    path("corrections/", views.corrections, name="corrections"),
    path("feed/", feeds.LatestSummariesFeed(), name="feed"),
    path("feed/atom/", feeds.LatestSummariesAtomFeed(), name="atom_feed"),
    path("feed.json", feeds.json_feed, name="json_feed"),
    path(
        "sitemap.xml",
        sitemap,
        {"sitemaps": SITEMAPS, "template_name": "sitemaps/sitemap.xml"},
        name="sitemap",
    ),
    path("sitemap-news.xml", news_sitemap, name="news_sitemap"),
    path("robots.txt", views.robots_txt, name="robots_txt"),
]
