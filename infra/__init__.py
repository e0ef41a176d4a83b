"""The Miyabi Pulumi program: one component per box on the diagram, plus its offline plan."""
