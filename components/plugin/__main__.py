"""The Pulumi component plugin of this repository: PlanoOnAws and PlanoOnDocker for every language.

    pulumi package add github.com/<owner>/<repo>/components/plugin@<tag>   (or a local path to here)

serves the schema Pulumi's analyzer infers from the components (plano_pulumi/provider.py, with the
secret inputs and outputs marked) and constructs the components when a program asks for them.
"""

from plano_pulumi.provider import serve

if __name__ == "__main__":
    serve()
