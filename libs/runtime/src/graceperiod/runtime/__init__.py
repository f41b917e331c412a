"""Thin runtime plumbing shared by the services: broker and Mongo factories, logging, health, clock."""
