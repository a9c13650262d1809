"""Banque de phrases en français (X, Bluesky, Mastodon, un peu de Reddit)."""

# fmt: off
BANK = {
    "sep": " ",
    "open": {
        "positive": ["Alors là, chapeau.", "Bon, je dois l'admettre :", "Incroyable.",
                     "Franchement ?", "Ouah.", "Je suis bluffé.", "Enfin !"],
        "neutral": ["Bon.", "Petit point :", "Pour info :", "À noter :", "Récap :",
                    "Au cas où vous l'auriez raté :"],
        "negative": ["Sérieusement ?", "Misère.", "Bon courage à nous.", "Avis impopulaire :",
                     "Ça m'énerve.", "Soupir."],
    },
    "close": {
        "positive": ["J'adore.", "Quelle époque.", "Ça m'a fait ma journée.", "Trop bien.",
                     "Je ne m'en lasse pas.", "Bravo à l'équipe."],
        "neutral": ["On verra bien.", "À suivre.", "Vous en pensez quoi ?",
                    "Je reviendrai dessus.", "Curieux de voir la suite."],
        "negative": ["Quelle tristesse.", "Non merci.", "C'est déprimant.",
                     "On marche sur la tête.", "Je suis fatigué de tout ça.", "Pathétique."],
    },
    "reply": {
        "positive": ["Carrément !", "Tellement vrai.", "Pareil ici.", "Exactement."],
        "neutral": ["Source ?", "Question sincère :", "Hmm,", "Tu l'as testé sur mobile ?"],
        "negative": ["Pas du tout d'accord.", "Non.", "Faut arrêter.", "Bof."],
    },
    "concern": [
        "Mais bon, on a demandé leur avis aux artistes ?",
        "Un peu mal à l'aise quand même avec les données d'entraînement.",
        "Je pense aux animateurs, quand même.",
        "Et le droit d'auteur dans tout ça ?",
    ],
    "emoji": {
        "positive": ["🤩", "🔥", "😍", "✨", "👏", "😂"],
        "neutral": ["👀", "🤔", "📌"],
        "negative": ["😬", "🙄", "😤", "😒"],
    },
    "tags": ["IA", "IAgénérative"],
    "slots": {
        "subject": ["mon chien", "mon chat", "notre photo de mariage", "ma grand-mère",
                    "mes enfants", "la photo de l'équipe", "mon vieux selfie de vacances",
                    "mes parents", "la tour Eiffel", "mon appart"],
        "style": ["Studio Ghibli", "Pixar", "Astérix", "Tintin", "Les Simpson", "Lego",
                  "anime des années 90", "Wes Anderson"],
        "rival": ["Gemini 2.0 Flash", "Midjourney", "Grok", "Mistral", "DALL-E 3",
                  "Stable Diffusion", "Ideogram"],
        "thing": ["un menu de restaurant", "une BD", "une affiche de film", "une infographie",
                  "un panneau de signalisation"],
    },
    "story": {
        "rumours": {
            "claim": ["OpenAI s'apprête à lancer la génération d'images native dans GPT-4o.",
                      "OpenAI annonce un livestream, tout le monde parie sur les images.",
                      "La génération d'images de 4o montrée en mai arrive enfin, paraît-il."],
            "detail": ["Rien d'officiel pour l'instant.", "Gemini a déjà pris de l'avance.",
                       "Ce serait un gros saut par rapport à DALL-E 3."],
            "positive": ["Hâte de voir ça."], "neutral": ["À prendre avec des pincettes."],
            "negative": ["Encore du teasing."],
        },
        "launch_hype": {
            "claim": ["GPT-4o génère maintenant des images directement dans ChatGPT.",
                      "La génération d'images de 4o est dispo pour les abonnés Plus.",
                      "Le nouveau modèle d'images de ChatGPT écrit du texte lisible, enfin.",
                      "J'ai demandé {thing} à ChatGPT et c'est parfait du premier coup.",
                      "On peut envoyer une photo et la transformer en style {style}.",
                      "Testé la génération d'images de GPT-4o pendant une heure."],
            "detail": ["Le rendu du texte est bluffant.", "C'est lent mais très précis.",
                       "Les mains sont enfin normales.", "Les retouches par conversation marchent "
                       "super bien.", "Ça écrase {rival} sur le respect du prompt."],
            "positive": ["Ça change tout pour les graphistes.", "Le meilleur modèle d'images "
                         "que j'ai testé.", "Chapeau OpenAI."],
            "neutral": ["Déploiement gratuit plus tard.", "Quelques tests en dessous."],
            "negative": ["Les banques d'images vont souffrir.", "Encore plus de contenu "
                         "généré partout."],
        },
        "ghibli_wave": {
            "claim": ["J'ai transformé {subject} en scène de Studio Ghibli.",
                      "Ma timeline n'est plus que des photos version Ghibli.",
                      "Voici {subject} façon Miyazaki.",
                      "Tout le monde se met au style Ghibli aujourd'hui.",
                      "J'ai demandé {subject} en style {style}."],
            "detail": ["Le ciel à l'aquarelle est parfait.", "Tous les visages restent "
                       "reconnaissables.", "Mon groupe WhatsApp ne fait plus que ça.",
                       "Même les marques s'y mettent."],
            "positive": ["Trop mignon, je craque.", "Je l'encadre.", "Je ne peux plus "
                         "m'arrêter."],
            "neutral": ["La mode sera passée vendredi.", "Bon, voilà le mien."],
            "negative": ["Stop, il y en a partout.", "Tout se ressemble, c'est fade."],
        },
        "capacity_melting": {
            "claim": ["Sam Altman dit que leurs GPU sont en train de fondre.",
                      "OpenAI limite temporairement la génération d'images.",
                      "Bloqué après {n} images, limite atteinte.",
                      "La génération d'images plante sans arrêt aujourd'hui."],
            "detail": ["Je paie Plus et j'attends quand même.", "Revenez dans {n} heures, "
                       "qu'il dit.", "La vague Ghibli a cassé leurs serveurs."],
            "positive": ["Normal vu la demande."], "neutral": ["Quelqu'un d'autre a le "
                                                              "problème ?"],
            "negative": ["Inutilisable.", "20 dollars par mois pour ça ?", "Je résilie."],
        },
        "signups_free_tier": {
            "claim": ["ChatGPT a gagné un million d'utilisateurs en une heure.",
                      "La génération d'images arrive pour les comptes gratuits.",
                      "Mes parents se sont inscrits sur ChatGPT juste pour les images Ghibli."],
            "detail": ["Plus rapide que le lancement de ChatGPT.", "Les gratuits ont droit à "
                       "quelques images par jour."],
            "positive": ["Des chiffres fous."], "neutral": ["À voir sur la durée."],
            "negative": ["Adieu les serveurs."],
        },
        "copyright_debate": {
            "claim": {
                "negative": ["Miyazaki a qualifié l'animation par IA d'« insulte à la vie "
                             "elle-même », et OpenAI copie son style à la chaîne.",
                             "Personne au Studio Ghibli n'a donné son accord.",
                             "Transformer l'œuvre d'une vie en filtre en un clic, c'est du vol.",
                             "La vidéo de Miyazaki tourne à nouveau, et il avait raison."],
                "neutral": ["La vidéo de 2016 où Miyazaki parle d'une « insulte à la vie "
                            "elle-même » refait surface.",
                            "Juridiquement, un style n'est pas protégé par le droit d'auteur.",
                            "Le débat sur l'imitation de style est relancé."],
                "positive": ["Un style n'a jamais été protégé, et tant mieux.",
                             "Tous les artistes apprennent en imitant."],
            },
            "detail": ["Il parlait d'une démo d'animation par IA.", "Le consentement et la "
                       "rémunération sont le vrai sujet.", "Les tribunaux vont mettre des "
                       "années."],
            "positive": ["Laissez les gens s'amuser."], "neutral": ["Le débat ne fait que "
                                                                   "commencer."],
            "negative": ["Soutenez les artistes.", "C'est honteux.", "Payez les artistes."],
        },
        "competitor_race": {
            "claim": ["Même prompt sur GPT-4o et {rival}.", "Comparatif : 4o contre {rival}.",
                      "Google avait sorti la génération native dans Gemini 2.0 Flash avant.",
                      "{rival} reste plus joli, 4o suit mieux les consignes."],
            "detail": ["4o a bien écrit le texte, {rival} non.", "{rival} est plus rapide."],
            "positive": ["La concurrence, c'est bien."], "neutral": ["Résultats en dessous."],
            "negative": ["Tout le monde copie tout le monde."],
        },
        "midjourney_v7": {
            "claim": ["Midjourney V7 est sorti en alpha.", "Premiers tests de Midjourney V7.",
                      "Midjourney V7 contre GPT-4o, même prompt."],
            "detail": ["Les textures sont superbes.", "Toujours pas de texte lisible."],
            "positive": ["Midjourney est de retour."], "neutral": ["C'est une alpha."],
            "negative": ["Trop tard."],
        },
        "memes_offtopic": {
            "claim": ["Moi après avoir ghiblifié toutes mes photos au lieu de bosser.",
                      "Heures perdues sur la génération d'images cette semaine : oui.",
                      "Rien à voir, mais il me faut un café.",
                      "Mon chat n'a pas du tout aimé son portrait Ghibli."],
            "detail": ["Au secours.", "Productivité : zéro."],
            "positive": ["Mdr."], "neutral": ["Bref."], "negative": ["Faites que ça s'arrête."],
        },
    },
}
# fmt: on
